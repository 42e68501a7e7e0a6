"""A fake LLM for engine tests: scripted streams with hold points, every request recorded."""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge.pipeline.llm import ChatLLM, Completed, LLMEvent, TextDelta, ToolCall, ToolCallDelta


@dataclass
class Hold:
    """A point in a scripted stream where it waits until the test calls :meth:`release`;
    ``reached`` is set when the stream gets there (everything before it has been consumed)."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.gate.set()


Step = LLMEvent | Hold | Exception  # an exception is raised where it stands (LLMError, say)
Script = str | Sequence[Step]  # a str is text_reply(str)


@dataclass
class LLMCall:
    """One request the fake LLM got, and what became of its stream."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tool_choice: Any
    temperature: float | None
    max_tokens: int | None
    model: str | None
    finished: bool = False  # streamed its Completed event
    closed: bool = False  # stopped before that: its consumer cancelled it, or a step raised

    @property
    def user_text(self) -> str:
        """The content of the last user message (what the caller said last)."""
        users = [m for m in self.messages if m.get("role") == "user"]
        return str(users[-1]["content"]) if users else ""


def text_reply(text: str) -> list[Step]:
    """``text`` streamed word by word, then :class:`Completed`."""
    deltas: list[Step] = [TextDelta(piece) for piece in re.findall(r"\s*\S+\s*", text)]
    return [*deltas, Completed("stop", text)]


def tool_call_reply(
    name: str, arguments: dict[str, Any] | str, *, call_id: str = "call_1", text: str = ""
) -> list[Step]:
    """Optional ``text``, then a call of ``name`` whose JSON arguments stream in two pieces."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    half = len(args) // 2
    steps: list[Step] = list(text_reply(text)[:-1]) if text else []
    steps += [
        ToolCallDelta(0, call_id, name, args[:half]),
        ToolCallDelta(0, call_id, name, args[half:]),
        Completed("tool_calls", text, (ToolCall(call_id, name, args),)),
    ]
    return steps


def echo(call: LLMCall) -> Script:
    """The default reply: repeats what the caller said last."""
    return f"You said: {call.user_text}"


def _tool_calls(calls: dict[int, list[ToolCallDelta]]) -> tuple[ToolCall, ...]:
    return tuple(
        ToolCall(deltas[-1].call_id, deltas[-1].name, "".join(d.arguments for d in deltas))
        for _, deltas in sorted(calls.items())
    )


class FakeLLM(ChatLLM):
    """Answers request ``n`` with ``replies[n]`` (a script, or a function of the request to
    one), and with ``default`` once they run out. Records every request in ``requests``.
    A script without a :class:`Completed` gets one at its end, as a real stream would."""

    def __init__(
        self,
        replies: Iterable[Script | Callable[[LLMCall], Script]] = (),
        *,
        default: Callable[[LLMCall], Script] = echo,
        model: str = "fake",
    ) -> None:
        # No super().__init__(): there is no endpoint to connect to.
        self.base_url = "fake://llm"
        self.model = model
        self.timeout_s = 1.0
        self.temperature = 0.7
        self.max_tokens = 400
        self.replies: deque[Script | Callable[[LLMCall], Script]] = deque(replies)
        self.default = default
        self.requests: list[LLMCall] = []

    def _script(self, call: LLMCall) -> Sequence[Step]:
        reply = self.replies.popleft() if self.replies else self.default
        script = reply(call) if callable(reply) else reply
        return text_reply(script) if isinstance(script, str) else script

    async def stream(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        model: str | None = None,
    ) -> AsyncIterator[LLMEvent]:
        call = LLMCall(
            [dict(m) for m in messages],
            list(tools or ()),
            tool_choice,
            temperature,
            max_tokens,
            model,
        )
        self.requests.append(call)
        text: list[str] = []
        calls: dict[int, list[ToolCallDelta]] = {}
        try:
            await asyncio.sleep(0)  # a request takes at least a loop turn
            for step in self._script(call):
                if isinstance(step, Hold):
                    step.reached.set()
                    await step.gate.wait()
                    continue
                if isinstance(step, Exception):
                    raise step
                if isinstance(step, TextDelta):
                    text.append(step.text)
                elif isinstance(step, ToolCallDelta):
                    calls.setdefault(step.index, []).append(step)
                elif isinstance(step, Completed):
                    call.finished = True
                yield step
            if not call.finished:  # a real stream always ends with one: made up from the deltas
                call.finished = True
                yield Completed(
                    "tool_calls" if calls else "stop", "".join(text), _tool_calls(calls)
                )
        finally:
            call.closed = not call.finished

    async def close(self) -> None:
        pass


# --- the bundle ----------------------------------------------------------------------------
