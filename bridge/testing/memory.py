"""An in-memory connection pair, for driving a call adapter without sockets."""

from __future__ import annotations

import asyncio

from bridge.carriers.base import Frame


class MemoryEnd:
    def __init__(
        self, inbox: asyncio.Queue[Frame | None], outbox: asyncio.Queue[Frame | None]
    ) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self.closed = False

    async def receive(self) -> Frame | None:
        if self.closed:
            return None
        frame = await self._inbox.get()
        if frame is None:
            self.closed = True
        return frame

    async def send(self, frame: Frame) -> None:
        if self.closed:
            raise ConnectionError("connection closed")
        await self._outbox.put(frame)

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self._outbox.put(None)  # the peer's receive() returns None
            await self._inbox.put(None)


def memory_pipe() -> tuple[MemoryEnd, MemoryEnd]:
    """Two connected ends: what one sends, the other receives."""
    a_to_b: asyncio.Queue[Frame | None] = asyncio.Queue()
    b_to_a: asyncio.Queue[Frame | None] = asyncio.Queue()
    return MemoryEnd(b_to_a, a_to_b), MemoryEnd(a_to_b, b_to_a)
