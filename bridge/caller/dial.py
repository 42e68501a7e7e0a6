"""Connections from the simulated caller to a bridge: WebSocket or TCP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import websockets
from websockets.asyncio.client import ClientConnection

from bridge.carriers.base import Frame


class WebSocketClient:
    def __init__(self, connection: ClientConnection) -> None:
        self._ws = connection

    async def receive(self) -> Frame | None:
        try:
            return await self._ws.recv()
        except websockets.ConnectionClosed:
            return None

    async def send(self, frame: Frame) -> None:
        await self._ws.send(frame)

    async def close(self) -> None:
        await self._ws.close()


class TcpClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def receive(self) -> Frame | None:
        try:
            return await self._reader.read(65536) or None
        except ConnectionError:
            return None

    async def send(self, frame: Frame) -> None:
        self._writer.write(frame.encode() if isinstance(frame, str) else frame)
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


@contextlib.asynccontextmanager
async def dial_websocket(
    url: str, *, subprotocols: tuple[str, ...] = (), headers: dict[str, str] | None = None
) -> AsyncIterator[WebSocketClient]:
    async with websockets.connect(
        url,
        subprotocols=list(subprotocols) or None,  # type: ignore[arg-type]
        additional_headers=headers,
        max_size=None,
    ) as connection:
        yield WebSocketClient(connection)


@contextlib.asynccontextmanager
async def dial_tcp(host: str, port: int) -> AsyncIterator[TcpClient]:
    reader, writer = await asyncio.open_connection(host, port)
    client = TcpClient(reader, writer)
    try:
        yield client
    finally:
        await client.close()
