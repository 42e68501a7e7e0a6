"""Connections from the simulated caller to a bridge: WebSocket or TCP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import websockets
from websockets.asyncio.client import ClientConnection

from bridge.carriers.base import Frame
from bridge.sip.media import Datagrams


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
        compression=None,  # carriers do not deflate audio frames, and it costs CPU
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


class RtpClient:
    """A phone's RTP socket. It learns where to send from the first packet the bridge sends
    (symmetric RTP); what the caller says before then is dropped, as on a real line."""

    def __init__(self) -> None:
        self.port = 0
        self.peer: tuple[str, int] | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def _arrived(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.peer is None:
            self.peer = addr
        if addr == self.peer:
            self._queue.put_nowait(data)

    async def receive(self) -> Frame | None:
        return await self._queue.get()

    async def send(self, frame: Frame) -> None:
        if self._udp is not None and self.peer is not None and isinstance(frame, bytes):
            self._udp.sendto(frame, self.peer)

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
            self._queue.put_nowait(None)


@contextlib.asynccontextmanager
async def open_rtp(host: str = "127.0.0.1") -> AsyncIterator[RtpClient]:
    client = RtpClient()
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(
        lambda: Datagrams(client._arrived), local_addr=(host, 0)
    )
    client._udp = udp
    client.port = int(udp.get_extra_info("sockname")[1])
    try:
        yield client
    finally:
        await client.close()
