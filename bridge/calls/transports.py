"""Carrier connections as :class:`~bridge.calls.call.Transport`: WebSocket and TCP stream."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from bridge.carriers.base import Frame


class WebSocketTransport:
    def __init__(self, websocket: WebSocket, first: list[Frame] | None = None) -> None:
        self._ws = websocket
        self._replay = list(first or [])  # frames already read (carrier detection)

    async def receive(self) -> Frame | None:
        if self._replay:
            return self._replay.pop(0)
        try:
            message = await self._ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is not None:
            return str(text)
        return bytes(message.get("bytes") or b"")

    async def send(self, frame: Frame) -> None:
        if isinstance(frame, str):
            await self._ws.send_text(frame)
        else:
            await self._ws.send_bytes(frame)

    async def close(self) -> None:
        if self._ws.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await self._ws.close()


class StreamTransport:
    """A TCP connection (Asterisk AudioSocket): frames are whatever chunks arrive."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def receive(self) -> Frame | None:
        try:
            data = await self._reader.read(65536)
        except ConnectionError:
            return None
        return data or None

    async def send(self, frame: Frame) -> None:
        data = frame.encode() if isinstance(frame, str) else frame
        self._writer.write(data)
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
