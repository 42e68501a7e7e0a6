"""The SIP user agent on its own: start-up under uvloop (as `bridge serve` runs it), and
registering with a trunk."""

import asyncio
from pathlib import Path
from types import SimpleNamespace

import uvloop
from aiosipua import RegistrationState

from bridge.config import Settings
from bridge.doors.admission import Admission
from bridge.sip.server import SipServer
from bridge.testing.sipp import free_udp_port, run_sipp


class Replies(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.put_nowait(data)


async def options_round_trip() -> bytes:
    runtime = SimpleNamespace(engines=None, admission=Admission(1, lambda: object()))
    server = SipServer(runtime, Settings(sip_port=0).sip)  # type: ignore[arg-type]
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


async def test_the_bridge_registers_with_its_trunk_answering_the_digest_challenge() -> None:
    sip_port = free_udp_port()
    ready = asyncio.Event()
    registrar = asyncio.create_task(
        run_sipp(
            Path(__file__).parent / "scenarios" / "registrar.xml",
            None,
            variables={"user": "bridge-user", "password": "s3cret"},
            sip_port=sip_port,
            ready=ready,
            timeout_s=20,
        )
    )
    await ready.wait()
    settings = Settings(
        sip_port=0,
        sip_register=True,
        sip_trunk_uri=f"sip:127.0.0.1:{sip_port}",
        sip_trunk_username="bridge-user",
        sip_trunk_password="s3cret",
    )
    runtime = SimpleNamespace(engines=None, admission=Admission(1, lambda: object()))
    server = SipServer(runtime, settings.sip)  # type: ignore[arg-type]
    await server.start()
    registered = asyncio.Event()
    registration = server.registration
    assert registration is not None
    logged = registration.on_registered
    registration.on_registered = lambda r: (logged and logged(r), registered.set())
    try:
        result = await registrar
        assert result.ok, result.explain()  # sipp checked our Authorization
        async with asyncio.timeout(5):
            await registered.wait()
        assert registration.state == RegistrationState.REGISTERED
        assert registration.granted_expires == 300
    finally:
        await server.stop()
