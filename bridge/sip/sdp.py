"""SDP offer/answer for G.711 calls (RFC 3264), on aiosipua's SDP model.

The bridge speaks PCMU and PCMA with RFC 4733 telephone events. It answers with the first of
those the offer lists, keeps the offer's telephone-event payload type (aiosipua would always
answer 101), asks for 20 ms packets, and mirrors the offer's direction so a peer that holds
the call (``sendonly`` / ``inactive``, or the old ``c=0.0.0.0``) gets ``recvonly`` /
``inactive`` back.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from aiosipua import SdpMessage, SdpNegotiationError, build_sdp, negotiate_sdp

from bridge.sip import compat
from bridge.sip.rtp import PCMA, PCMU, MediaParams

SUPPORTED = [PCMU, PCMA]
DTMF_PAYLOAD_TYPE = 101  # what we offer; an answer keeps the peer's number
PTIME_MS = 20
HOLD_DIRECTIONS = ("sendonly", "inactive")

Address = tuple[str, int]


@dataclass(frozen=True)
class Negotiated:
    params: MediaParams
    remote: Address  # where to send RTP until the peer's packets say otherwise
    held: bool  # the peer will not play what we send


def _telephone_event(sdp: SdpMessage) -> int | None:
    audio = sdp.audio
    if audio is None:
        return None
    for codec in audio.codecs:
        if codec.encoding_name.lower() == "telephone-event":
            return codec.payload_type
    return None


def _remote(sdp: SdpMessage) -> tuple[Address, bool]:
    address = sdp.rtp_address
    audio = sdp.audio
    if address is None or audio is None:
        raise SdpNegotiationError("the SDP has no audio address")
    try:
        ipaddress.ip_address(address[0])
    except ValueError:
        # RTP goes to an address literal; a name would need a DNS lookup on the event loop.
        raise SdpNegotiationError(
            f"the SDP's address {address[0]!r:.60} is not an IP address"
        ) from None
    if not 0 <= address[1] <= 65535:
        raise SdpNegotiationError(f"the SDP's port {address[1]} is not a UDP port")
    held = audio.direction in HOLD_DIRECTIONS or address[0] in ("0.0.0.0", "::")
    return address, held


def answer(offer: SdpMessage, host: str, rtp_port: int) -> tuple[SdpMessage, Negotiated]:
    """Our answer to ``offer``; raises SdpNegotiationError when nothing fits (a 488)."""
    dtmf = _telephone_event(offer)
    sdp, payload_type = negotiate_sdp(
        offer,
        host,
        rtp_port,
        supported_codecs=SUPPORTED,
        dtmf_payload_type=dtmf or 0,
        ptime=PTIME_MS,
        session_id=str(int(time.time())),
    )
    compat.own_ptime(sdp, PTIME_MS)  # what we send, whatever the peer sends
    remote, held = _remote(offer)
    return sdp, Negotiated(MediaParams(payload_type, dtmf), remote, held)


def offer(host: str, rtp_port: int) -> SdpMessage:
    """An offer for an outbound call: PCMU, PCMA, telephone-event, 20 ms."""
    sdp = build_sdp(host, rtp_port, PCMU, "PCMU", dtmf_payload_type=DTMF_PAYLOAD_TYPE)
    compat.offer_also(sdp, PCMA, "PCMA")
    return sdp


def accept(answer_sdp: SdpMessage) -> Negotiated:
    """What the far end's answer to our offer settled."""
    audio = answer_sdp.audio
    if audio is None:
        raise SdpNegotiationError("the answer has no audio")
    chosen = next((c.payload_type for c in audio.codecs if c.payload_type in SUPPORTED), None)
    if chosen is None:
        raise SdpNegotiationError("the answer chose no codec we offered")
    remote, held = _remote(answer_sdp)
    return Negotiated(MediaParams(chosen, _telephone_event(answer_sdp)), remote, held)
