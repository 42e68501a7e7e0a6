"""The SIP user agent behind an edge proxy and a dispatcher: Record-Route echoed in the
responses that make the dialog (and our BYE routed through it, in order), OPTIONS answered 503
while the bridge takes no calls, concurrent INVITEs never admitted beyond BRIDGE_MAX_CALLS, and
one RTP packet of silence every 20 ms while the agent is quiet."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from bridge.audio.format import AudioFormat
from bridge.config import Settings
from bridge.doors.admission import Admission, Ticket
from bridge.sip.dialogs import Dialogs
from bridge.sip.server import SipServer

EDGE = ["<sip:10.0.0.1;lr;ftag=abc>", "<sip:10.0.0.2;lr>"]


def invite(port: int, call_id: str, record_route: list[str] | None = None) -> bytes:
    body = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
    head = [
        "INVITE sip:bridge@127.0.0.1 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{call_id}",
        *(f"Record-Route: {route}" for route in record_route or []),
        "From: <sip:probe@127.0.0.1>;tag=p1",
        "To: <sip:bridge@127.0.0.1>",
        f"Call-ID: {call_id}",
        "CSeq: 1 INVITE",
        f"Contact: <sip:probe@127.0.0.1:{port}>",
        "Max-Forwards: 70",
        "Content-Type: application/sdp",
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


def options(port: int, n: int) -> bytes:
    head = [
        "OPTIONS sip:bridge@127.0.0.1 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-opt-{n}",
        "From: <sip:dispatcher@127.0.0.1>;tag=d1",
        "To: <sip:bridge@127.0.0.1>",
        f"Call-ID: opt-{n}",
        "CSeq: 1 OPTIONS",
        "Max-Forwards: 70",
        "Content-Length: 0",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode()


def headers(message: bytes, name: str) -> list[str]:
    found = []
    for line in message.decode().split("\r\n\r\n")[0].split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            found.append(value.strip())
    return found


class Peer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.put_nowait(data)


async def started(admission: Admission) -> tuple[SipServer, asyncio.DatagramTransport, Peer]:
    runtime = SimpleNamespace(admission=admission)
    server = SipServer(runtime, Settings(sip_port=0).sip)  # type: ignore[arg-type]
    await server.start()
    loop = asyncio.get_running_loop()
    udp, peer = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
    return server, udp, peer


async def next_matching(peer: Peer, start: bytes) -> bytes:
    async with asyncio.timeout(5):
        while not (message := await peer.received.get()).startswith(start):
            pass
    return message


async def test_the_200_echoes_record_route_and_our_bye_follows_it_in_order() -> None:
    server, udp, peer = await started(Admission(10, lambda: object()))  # type: ignore[arg-type,return-value]
    port = udp.get_extra_info("sockname")[1]

    async def serve(leg: Any, started: object, ticket: object) -> None:
        server.dialogs.hangup(leg)  # answered: hang up at once (a BYE of ours)

    server.dialogs.serve = serve  # type: ignore[method-assign]
    try:
        udp.sendto(invite(port, "rr-1", EDGE), ("127.0.0.1", server.port))
        ringing = await next_matching(peer, b"SIP/2.0 180")
        ok = await next_matching(peer, b"SIP/2.0 200")
        bye = await next_matching(peer, b"BYE ")
    finally:
        udp.close()
        await server.stop()
    assert headers(ok, "Record-Route") == EDGE  # RFC 3261 12.1.1: every value, in order
    assert headers(ringing, "Record-Route") == EDGE
    assert headers(bye, "Route") == EDGE  # the UAS route set is the Record-Route in order


async def test_options_is_200_only_while_the_bridge_takes_calls() -> None:
    engines: list[object | None] = [None]
    admission = Admission(1, lambda: engines[0])  # type: ignore[arg-type,return-value]
    server, udp, peer = await started(admission)
    port = udp.get_extra_info("sockname")[1]
    answers: dict[str, tuple[str, list[str]]] = {}

    async def probe(state: str) -> None:
        udp.sendto(options(port, len(answers)), ("127.0.0.1", server.port))
        reply = await next_matching(peer, b"SIP/2.0")
        answers[state] = (reply.split(b"\r\n")[0].decode(), headers(reply, "Retry-After"))

    try:
        await probe("loading")
        engines[0] = object()
        await probe("ready")
        ticket = admission.admit("sip")
        assert isinstance(ticket, Ticket)
        await probe("full")
        ticket.release()
        admission.draining = True
        await probe("draining")
    finally:
        udp.close()
        await server.stop()
    unavailable = "SIP/2.0 503 Service Unavailable"
    assert answers == {
        "loading": (unavailable, ["10"]),
        "ready": ("SIP/2.0 200 OK", []),
        "full": (unavailable, ["5"]),
        "draining": (unavailable, ["30"]),
    }


async def test_concurrent_invites_are_never_admitted_beyond_max_calls() -> None:
    admission = Admission(3, lambda: object())  # type: ignore[arg-type,return-value]
    server, udp, peer = await started(admission)
    port = udp.get_extra_info("sockname")[1]
    most = 0
    release = asyncio.Event()

    async def serve(leg: Any, started: object, ticket: object) -> None:
        nonlocal most
        most = max(most, admission.total)
        await release.wait()

    server.dialogs.serve = serve  # type: ignore[method-assign]
    finals: dict[str, bytes] = {}
    try:
        for n in range(10):  # all at once: no await between them
            udp.sendto(invite(port, f"burst-{n}"), ("127.0.0.1", server.port))
        async with asyncio.timeout(5):
            while len(finals) < 10:
                message = await peer.received.get()
                status = message.split(b" ")[1]
                if status in (b"200", b"503"):
                    finals[headers(message, "Call-ID")[0]] = message
        assert admission.total == 3
        release.set()
    finally:
        udp.close()
        await server.stop()
    statuses = sorted(m.split(b"\r\n")[0].decode() for m in finals.values())
    assert statuses == ["SIP/2.0 200 OK"] * 3 + ["SIP/2.0 503 Service Unavailable"] * 7
    assert all(headers(m, "Retry-After") == ["5"] for m in finals.values() if b" 503 " in m)
    assert most == 3


class CountingRtp:
    def __init__(self) -> None:
        self.last_sent = 0.0
        self.sent: list[str] = []

    async def send(self, packet: bytes, who: str = "filler") -> None:
        self.sent.append(who)
        self.last_sent = asyncio.get_running_loop().time()


async def test_silence_goes_out_every_20_ms_and_never_doubles_the_agents_audio() -> None:
    rtp = CountingRtp()
    leg = SimpleNamespace(rtp=rtp, codec=SimpleNamespace(media=lambda pcm: [pcm]))
    media = AudioFormat("pcmu", 8000)
    filler = asyncio.create_task(Dialogs._fill_silence(None, leg, media))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(1.0)  # quiet: 50 packets of silence
        quiet = rtp.sent.count("filler")
        rtp.sent.clear()
        await asyncio.sleep(0.015)  # the agent talks, 15 ms out of phase with the filler
        for _ in range(50):
            await rtp.send(b"speech", "agent")
            await asyncio.sleep(0.02)
    finally:
        filler.cancel()
    assert 45 <= quiet <= 52, quiet
    assert rtp.sent.count("filler") <= 2, rtp.sent  # at most the hand-over


async def test_an_invite_repeated_after_our_200_never_gets_a_180() -> None:
    # A caller (or a proxy) that has not heard our 200 repeats its INVITE. Before the ACK the
    # dialog is not confirmed, but we have answered: a 180 now would come after the 2xx and
    # break the caller (sipp aborts the call on it); the 200 repeats by itself.
    server, udp, peer = await started(Admission(10, lambda: object()))  # type: ignore[arg-type,return-value]
    port = udp.get_extra_info("sockname")[1]
    serving = asyncio.Event()

    async def serve(leg: Any, started: object, ticket: object) -> None:
        serving.set()
        await asyncio.Event().wait()  # the call goes on until the server stops

    server.dialogs.serve = serve  # type: ignore[method-assign]
    try:
        request = invite(port, "repeat-1")
        udp.sendto(request, ("127.0.0.1", server.port))
        await next_matching(peer, b"SIP/2.0 200")
        await serving.wait()
        udp.sendto(request, ("127.0.0.1", server.port))  # the same INVITE again, no ACK yet
        second = await next_matching(peer, b"SIP/2.0 ")  # the 200's own retransmission
    finally:
        udp.close()
        await server.stop()
    assert second.startswith(b"SIP/2.0 200"), second.split(b"\r\n")[0]


async def test_the_answer_advertises_the_public_address_and_an_rtp_port_in_range() -> None:
    # Behind NAT or an edge (rtpengine), what the 200 OK names is the advertised address, and
    # the RTP port comes from BRIDGE_SIP_RTP_PORTS. (The address is only written, never dialled.)
    settings = Settings(sip_port=0, sip_public_host="203.0.113.7", sip_rtp_ports="31000-31009")
    runtime = SimpleNamespace(admission=Admission(10, lambda: object()))  # type: ignore[arg-type,return-value]
    server = SipServer(runtime, settings.sip)  # type: ignore[arg-type]
    await server.start()
    loop = asyncio.get_running_loop()
    udp, peer = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
    port = udp.get_extra_info("sockname")[1]

    async def serve(leg: Any, started: object, ticket: object) -> None:
        server.dialogs.hangup(leg)

    server.dialogs.serve = serve  # type: ignore[method-assign]
    try:
        udp.sendto(invite(port, "nat-1"), ("127.0.0.1", server.port))
        ok = await next_matching(peer, b"SIP/2.0 200")
    finally:
        udp.close()
        await server.stop()
    (contact,) = headers(ok, "Contact")
    assert "@203.0.113.7:" in contact or "sip:203.0.113.7:" in contact, contact
    sdp = ok.decode().split("\r\n\r\n", 1)[1]
    assert "c=IN IP4 203.0.113.7" in sdp, sdp
    media = next(line for line in sdp.split("\r\n") if line.startswith("m=audio "))
    assert 31000 <= int(media.split()[1]) <= 31009, media
