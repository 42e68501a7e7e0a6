"""The Asterisk AudioSocket front door: a TCP server, one call per connection."""

from __future__ import annotations

import asyncio
from typing import Any

from bridge.calls.call import Call
from bridge.calls.routes import run_call
from bridge.calls.transports import StreamTransport
from bridge.carriers.audiosocket import AudioSocketCodec
from bridge.logging import get_logger

log = get_logger("bridge.calls")


async def start_audiosocket_server(runtime: Any, host: str, port: int) -> asyncio.Server:
    """Listen for Asterisk's ``AudioSocket()`` connections (port 0 picks a free port)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transport = StreamTransport(reader, writer)
        if runtime.engines is None or runtime.sessions >= runtime.settings.max_sessions:
            log.warning("refused an AudioSocket call", ready=runtime.engines is not None)
            await transport.close()
            return
        call = Call(
            AudioSocketCodec(), transport, engines=runtime.engines, settings=runtime.settings
        )
        await run_call(runtime, call)

    server = await asyncio.start_server(handle, host, port)
    bound = server.sockets[0].getsockname()[1]
    log.info("AudioSocket listening", host=host, port=bound)
    runtime.audiosocket_port = bound
    return server
