"""The Asterisk AudioSocket door: a TCP server, one call per connection."""

from __future__ import annotations

import asyncio

from bridge.calls.call import Call
from bridge.calls.transports import StreamTransport
from bridge.carriers.audiosocket import AudioSocketCodec
from bridge.doors.admission import Refused
from bridge.doors.carriers import run_call
from bridge.logging import get_logger
from bridge.runtime import Runtime

log = get_logger("bridge.calls")


async def start_audiosocket_server(runtime: Runtime, host: str, port: int) -> asyncio.Server:
    """Listen for Asterisk's ``AudioSocket()`` connections (port 0 picks a free port)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transport = StreamTransport(reader, writer)
        ticket = runtime.admission.admit("audiosocket")
        if isinstance(ticket, Refused):
            log.warning("refused an AudioSocket call", reason=ticket.reason)
            await transport.close()
            return
        # Routed like every other call: the dialplan router picks the flow (Asterisk sends
        # no numbers, so the default dialplan or the agent answers).
        call = Call(
            AudioSocketCodec(),
            transport,
            engines=ticket.engines,
            settings=runtime.settings,
            controller=runtime.call_flow,
        )
        await run_call(runtime, call, ticket)

    server = await asyncio.start_server(handle, host, port)
    bound = server.sockets[0].getsockname()[1]
    log.info("AudioSocket listening", host=host, port=bound)
    runtime.audiosocket_port = bound
    return server
