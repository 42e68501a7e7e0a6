"""The set of live calls, which can be awaited empty (shutdown, tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any


class LiveCalls:
    def __init__(self) -> None:
        self._calls: set[Any] = set()
        self._changed: asyncio.Condition | None = None  # made lazily, inside the event loop

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[Any]:
        return iter(set(self._calls))

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def add(self, call: Any) -> None:
        async with self._condition():
            self._calls.add(call)
            self._condition().notify_all()

    async def discard(self, call: Any) -> None:
        async with self._condition():
            self._calls.discard(call)
            self._condition().notify_all()

    async def wait_empty(self) -> None:
        async with self._condition():
            await self._condition().wait_for(lambda: not self._calls)

    async def wait_for_count(self, count: int) -> None:
        async with self._condition():
            await self._condition().wait_for(lambda: len(self._calls) >= count)
