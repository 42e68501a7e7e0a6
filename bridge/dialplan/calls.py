"""How a call gets its flow: the routed dialplan, or the LLM agent with its greeting."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridge.calls.call import Call
from bridge.config import Settings
from bridge.dialplan.interpreter import run_dialplan
from bridge.dialplan.routing import DialplanRouter

DEFAULT_LLM_URL = "https://api.openai.com/v1"


def llm_available(settings: Settings) -> bool:
    """An LLM endpoint was configured (a key, or a base URL of its own), or canned replies."""
    if settings.llm_backend == "canned":
        return True
    return bool(settings.llm_api_key) or settings.llm_base_url.rstrip("/") != DEFAULT_LLM_URL


def call_variables(call: Call, settings: Settings) -> dict[str, Any]:
    started = call.started
    assert started is not None
    return {
        **started.parameters,
        "caller": started.from_number,
        "called": started.to_number,
        "call_id": started.call_id,
        "carrier": call.codec.name,
        "llm_available": llm_available(settings),
    }


def call_flow(
    router: DialplanRouter,
    settings: Settings,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Callable[[Call], Awaitable[Any]]:
    async def flow(call: Call) -> None:
        assert call.started is not None
        plan = router.select(call.started)
        if plan is None:  # the agent answers: greet, then every turn goes to the LLM
            if settings.greeting and call.session is not None:
                call.session.say(settings.greeting)
            return
        await run_dialplan(
            plan,
            call,
            variables=call_variables(call, settings),
            now=now,
            recordings=Path(settings.recordings_dir),
        )

    return flow
