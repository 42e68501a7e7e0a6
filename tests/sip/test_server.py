"""The SIP user agent on its own: start-up under uvloop (as `bridge serve` runs it)."""

import asyncio
from types import SimpleNamespace

import uvloop

from bridge.config import Settings
from bridge.sip.server import SipServer


class Replies(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.put_nowait(data)


async def options_round_trip() -> bytes:
    server = SipServer(SimpleNamespace(engines=None), Settings(sip_port=0))
    await server.start()
    loop = asyncio.get_running_loop()
    udp, replies = await loop.create_datagram_endpoint(Replies, local_addr=("127.0.0.1", 0))
    port = udp.get_extra_info("sockname")[1]
    request = "\r\n".join(
        [
            "OPTIONS sip:bridge@127.0.0.1 SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-uv",
            "From: <sip:probe@127.0.0.1>;tag=1",
            "To: <sip:bridge@127.0.0.1>",
            "Call-ID: uv-1",
            "CSeq: 1 OPTIONS",
            "Max-Forwards: 70",
            "Content-Length: 0",
        ]
    )
    try:
        udp.sendto((request + "\r\n\r\n").encode(), ("127.0.0.1", server.port))
        async with asyncio.timeout(5):
            return await replies.received.get()
    finally:
        udp.close()
        await server.stop()


def test_the_user_agent_answers_under_uvloop() -> None:
    # aiosipua's own UDP protocol asserts a transport class uvloop does not use, and then
    # never answers; ours must.
    reply = uvloop.run(options_round_trip())
    assert reply.startswith(b"SIP/2.0 200 OK")
    assert b"Allow: " in reply
