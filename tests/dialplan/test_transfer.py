"""Transfers that cannot be carried out, and tasks that must not outlive their call.

The shipped reception transfers to sales, support and the operator. On a carrier without call
control configured (or when the carrier refuses), the caller hears an apology and the flow goes
on: to the node's ``on_error``, else back to the menu the caller came from.
"""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from conftest import RunningBridge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from test_flows import dial, heard, use_plan

from bridge.caller.caller import Listen, Press
from bridge.caller.wires import telnyx_wire
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.tts import PiperTTS
from bridge.testing.serve import serve_app
from bridge.testing.speech import contains_phrase

pytestmark = pytest.mark.slow
RECEPTION = Path(__file__).resolve().parents[2] / "dialplans" / "reception.yaml"
LONDON_MONDAY_MORNING = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
SORRY = "I'm sorry, I can't transfer you right now."


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with structlog.testing.capture_logs() as captured:
        yield captured


@pytest.fixture
async def leaks() -> AsyncIterator[list[str]]:
    """What the event loop reports about tasks destroyed while still pending."""
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(str(context["message"])))
    try:
        yield reported
    finally:
        loop.set_exception_handler(previous)


async def call_over(bridge: RunningBridge) -> None:
    """Wait until the bridge has finished with every call (its tasks cancelled and awaited)."""
    runtime = bridge.app.state.runtime
    async with asyncio.timeout(10):
        await runtime.calls.wait_empty()
    assert runtime.sessions == 0


def pending_since(before: set[asyncio.Task[Any]]) -> list[str]:
    current = asyncio.current_task()
    return sorted(
        repr(task.get_coro())
        for task in asyncio.all_tasks()
        if task not in before and task is not current and not task.done()
    )


async def test_reception_transfer_without_call_control_apologises_and_returns_to_the_menu(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText, logs: list[dict[str, Any]]
) -> None:
    # Twilio without REST call control.
    use_plan(bridge, RECEPTION.read_text(), now=LONDON_MONDAY_MORNING, twilio_account_sid="")
    reports, _ = await dial(
        bridge, piper, stt, [Listen(timeout_s=15), Press("1"), Listen(timeout_s=15), Press("3")]
    )
    said = re.sub(r"[^a-z0-9' ]+", "", " ".join(report.heard for report in reports[1:3]).lower())
    assert "putting you through to sales" in said
    assert "sorry i can't transfer you right now" in said.replace("cannot", "can't")
    assert "for sales press 1" in said  # back at the menu it came from
    assert contains_phrase(reports[3].heard, "monday to friday")  # and the menu still works
    await call_over(bridge)
    failed = [entry for entry in logs if entry["event"] == "transfer failed"]
    assert len(failed) == 1, failed
    assert failed[0]["log_level"] == "warning"
    assert failed[0]["node"] == "sales"
    assert "BRIDGE_TWILIO_ACCOUNT_SID" in failed[0]["error"]
    assert not [entry for entry in logs if entry["log_level"] in ("error", "critical")]


REFUSED = """
name: refused-test
start: menu
nodes:
  menu:
    type: menu
    prompt: Press one for the desk.
    timeout_s: 6
    retries: 0
    options:
      - {keys: "1", goto: desk}
  desk:
    type: transfer
    text: Connecting you.
    target: "+15550100299"
    error_text: The desk is busy.
    on_error: busy
  busy:
    type: hangup
    text: Please call again later.
"""


@pytest.fixture
async def refusing_api() -> AsyncIterator[tuple[list[str], str]]:
    seen: list[str] = []

    async def refuse(request: Request) -> JSONResponse:
        seen.append(request.url.path)
        if request.url.path.endswith("/hangup"):
            return JSONResponse({})
        return JSONResponse({"errors": [{"detail": "call not answered"}]}, status_code=422)

    async with serve_app(Starlette(routes=[Route("/{p:path}", refuse, methods=["POST"])])) as url:
        yield seen, url


async def test_refused_transfer_says_its_error_text_and_takes_on_error(
    bridge: RunningBridge,
    piper: PiperTTS,
    stt: SpeechToText,
    refusing_api: tuple[list[str], str],
    logs: list[dict[str, Any]],
) -> None:
    seen, api_url = refusing_api
    use_plan(bridge, REFUSED, telnyx_api_key="KEY", telnyx_api_url=api_url)
    wire = telnyx_wire()
    wire.headers = {"x": "telnyx"}  # selects the Telnyx route in dial()
    reports, _ = await dial(bridge, piper, stt, [Listen(), Press("1")], wire)
    assert heard(reports[1], "Connecting you. The desk is busy. Please call again later.")
    await call_over(bridge)
    # Refused, then the on_error node hung up (through the API: the fake carrier keeps the
    # stream open, so the caller is the one who leaves).
    assert [path.rsplit("/", 1)[-1] for path in seen] == ["transfer", "hangup"]
    failed = [entry for entry in logs if entry["event"] == "transfer failed"]
    assert len(failed) == 1
    assert "422" in failed[0]["error"]


async def test_no_task_outlives_a_call_that_ends_while_the_menu_listens(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText, leaks: list[str]
) -> None:
    use_plan(bridge, RECEPTION.read_text(), now=LONDON_MONDAY_MORNING)
    before = asyncio.all_tasks()
    # The caller hangs up while the menu waits for a key or speech (and, the second time, after
    # a failed transfer brought the call back to the menu).
    await dial(bridge, piper, stt, [Listen(timeout_s=15)])
    await dial(bridge, piper, stt, [Listen(timeout_s=15), Press("2"), Listen(timeout_s=15)])
    await call_over(bridge)
    await asyncio.sleep(0.2)  # cancelled tasks finish on the next turns of the loop
    assert pending_since(before) == []
    gc.collect()
    await asyncio.sleep(0)
    assert [message for message in leaks if "destroyed" in message] == []
