"""A reply started during the end-of-turn silence, adopted if the turn ends as expected.

A turn ends after ``silence_duration_ms`` (500 ms) of silence, but the caller's words are
transcribed early in that silence. A :class:`Prefetch` then sends the LLM request that the
turn's response would send and synthesizes the reply's first clause into the speech cache.
If the turn ends and the response's request is the same (same conversation, instructions,
tools), the response takes the running stream and finds its first clause ready: the reply
starts as soon as the turn ends. If the caller talks on, or anything changed, the prefetch is
cancelled and nobody ever sees it. Nothing it streams takes effect before a response adopts
it: tool calls are only ever run from a completed response.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from bridge.engine.llm_request import LLMRequest, llm_events
from bridge.pipeline.llm import ChatLLM, Completed, LLMEvent, TextDelta
from bridge.pipeline.text import ClauseSplitter

Warm = Callable[[str], Awaitable[None]]


class Prefetch:
    def __init__(self, request: LLMRequest, llm: ChatLLM, warm: Warm | None) -> None:
        self.request = request
        self._events: list[LLMEvent] = []
        self._error: BaseException | None = None
        self._done = False
        self._progress = asyncio.Event()
        self._warming: asyncio.Task[None] | None = None
        self._task = asyncio.create_task(self._pump(llm, warm))

    def matches(self, request: LLMRequest) -> bool:
        return request == self.request

    async def events(self) -> AsyncIterator[LLMEvent]:
        """The stream from its start: what has arrived so far, then the rest as it comes."""
        index = 0
        while True:
            if index < len(self._events):
                index += 1
                yield self._events[index - 1]
                continue
            if self._done:
                if self._error is not None:
                    raise self._error
                return
            self._progress.clear()
            await self._progress.wait()

    def cancel(self) -> None:
        """Abandon it: the request is closed and its first clause's synthesis dropped."""
        for task in (self._task, self._warming):
            if task is not None:
                task.cancel()

    async def _pump(self, llm: ChatLLM, warm: Warm | None) -> None:
        splitter = ClauseSplitter()
        try:
            async for event in llm_events(llm, self.request):
                self._events.append(event)
                self._progress.set()
                if warm is None or self._warming is not None:
                    continue
                if isinstance(event, TextDelta):
                    clauses = splitter.feed(event.text)
                elif isinstance(event, Completed):
                    clauses = splitter.flush()
                else:
                    continue
                if clauses:
                    self._warming = asyncio.create_task(_warm_quietly(warm, clauses[0]))
        except Exception as exc:  # the adopting response reports it, as if it had asked
            self._error = exc
        finally:
            self._done = True
            self._progress.set()


async def _warm_quietly(warm: Warm, clause: str) -> None:
    # The coroutine is made here, inside the task: a task cancelled before it starts would
    # otherwise leave it never awaited. A synthesis failure resurfaces when the response asks
    # for the same clause.
    with contextlib.suppress(Exception):
        await warm(clause)
