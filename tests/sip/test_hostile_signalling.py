"""Signalling that used to hang or fool the user agent: a CANCEL right behind its INVITE
(200 for the CANCEL, 487 for the INVITE, and never a 200 OK afterwards, which started a call
nobody was on, served until the RTP timeout); an SDP offer aiosipua cannot parse (never
answered at all); an offer naming a port or host we cannot send to."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from bridge.config import Settings
from bridge.doors.admission import Admission
from bridge.sip.server import SipServer

OFFER = "\r\n".join(
    [
        "v=0",
        "o=probe 1 1 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        "m=audio 40000 RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=sendrecv",
        "",
    ]
)


def request(method: str, port: int, body: str = "") -> bytes:
    lines = [
        f"{method} sip:bridge@127.0.0.1 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-race-1",
        "From: <sip:probe@127.0.0.1>;tag=p1",
        "To: <sip:bridge@127.0.0.1>",
        "Call-ID: race-1",
        f"CSeq: 1 {method}",
        f"Contact: <sip:probe@127.0.0.1:{port}>",
        "Max-Forwards: 70",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


class Replies(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.append(data)


def status_lines(replies: list[bytes], method: str) -> list[str]:
    lines = []
    for reply in replies:
        head = reply.decode(errors="replace").split("\r\n")
        if any(h.lower().startswith("cseq:") and h.split()[-1] == method for h in head):
            lines.append(head[0])
    return lines


@pytest.mark.parametrize("ring_ms", [0, 300])
async def test_a_cancel_right_behind_the_invite_is_never_answered_with_200(ring_ms: int) -> None:
    runtime = SimpleNamespace(admission=Admission(10, lambda: object()))
    server = SipServer(runtime, Settings(sip_port=0, sip_ring_ms=ring_ms).sip)  # type: ignore[arg-type]
    served: list[str] = []

    async def serve(leg: object, started: object, ticket: object) -> None:
        served.append("served")

    server.dialogs.serve = serve  # type: ignore[method-assign]
    await server.start()
    loop = asyncio.get_running_loop()
    udp, replies = await loop.create_datagram_endpoint(Replies, local_addr=("127.0.0.1", 0))
    port = udp.get_extra_info("sockname")[1]
    try:
        udp.sendto(request("INVITE", port, OFFER), ("127.0.0.1", server.port))
        udp.sendto(request("CANCEL", port), ("127.0.0.1", server.port))
        await asyncio.sleep(0.5 + ring_ms / 1000)
    finally:
        udp.close()
        await server.stop()
    assert status_lines(replies.received, "CANCEL") == ["SIP/2.0 200 OK"]
    invite = status_lines(replies.received, "INVITE")
    assert "SIP/2.0 487 Request Terminated" in invite
    assert "SIP/2.0 200 OK" not in invite, invite
    assert invite[-1] == "SIP/2.0 487 Request Terminated", invite  # nothing after it (no 180)
    assert served == []
    assert not server.legs
    assert runtime.admission.total == 0  # the place the call took is free again


async def test_an_offer_aiosipua_cannot_parse_gets_400_not_silence() -> None:
    runtime = SimpleNamespace(admission=Admission(10, lambda: object()))
    server = SipServer(runtime, Settings(sip_port=0).sip)  # type: ignore[arg-type]
    await server.start()
    loop = asyncio.get_running_loop()
    udp, replies = await loop.create_datagram_endpoint(Replies, local_addr=("127.0.0.1", 0))
    port = udp.get_extra_info("sockname")[1]
    try:
        offer = OFFER.replace("m=audio 40000", "m=audio abc")
        udp.sendto(request("INVITE", port, offer), ("127.0.0.1", server.port))
        await asyncio.sleep(0.5)
    finally:
        udp.close()
        await server.stop()
    assert status_lines(replies.received, "INVITE") == ["SIP/2.0 400 Bad Request"]


@pytest.mark.parametrize(
    "connection", ["c=IN IP4 127.0.0.1", "c=IN IP4 phone.example.com"], ids=["port", "host"]
)
async def test_an_offer_naming_no_usable_address_is_refused_with_488(connection: str) -> None:
    runtime = SimpleNamespace(admission=Admission(10, lambda: object()))
    server = SipServer(runtime, Settings(sip_port=0).sip)  # type: ignore[arg-type]
    await server.start()
    loop = asyncio.get_running_loop()
    udp, replies = await loop.create_datagram_endpoint(Replies, local_addr=("127.0.0.1", 0))
    port = udp.get_extra_info("sockname")[1]
    offer = OFFER.replace("c=IN IP4 127.0.0.1", connection)
    if connection.endswith("127.0.0.1"):
        offer = offer.replace("m=audio 40000", "m=audio 99999999")
    try:
        udp.sendto(request("INVITE", port, offer), ("127.0.0.1", server.port))
        await asyncio.sleep(0.5)
    finally:
        udp.close()
        await server.stop()
    invite = status_lines(replies.received, "INVITE")
    assert invite[-1] == "SIP/2.0 488 Not Acceptable Here", invite
    assert runtime.admission.total == 0
