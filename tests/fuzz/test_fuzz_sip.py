"""SIP media and signalling input: RTP datagrams through the call's codec, SDP offers through
our answer, and SIP requests through the user agent's screen (our handling of aiosipua's
parse failures). Each is answered (events, a protocol error, an SDP answer or
SdpNegotiationError, a SIP response) and nothing else raises."""

from __future__ import annotations

import random
import struct
from typing import Any

from aiosipua import SdpNegotiationError, SipMessage, SipRequest, parse_sdp
from fuzz_profiles import BATCH, FUZZ, Counter
from hypothesis import given
from hypothesis import strategies as st

from bridge.carriers.base import CarrierProtocolError
from bridge.sip import sdp
from bridge.sip.compat import Screen
from bridge.sip.rtp import PCMA, PCMU, MediaParams, RtpCodec, RtpPhone

PHONE = RtpPhone(MediaParams(PCMU, 101), random.Random(1))
GOOD_PACKETS = [PHONE.media(b"\xff" * 160), *PHONE.dtmf("5"), PHONE.media(b"\x00" * 240)]


def test_every_rtp_datagram_is_events_or_a_protocol_error() -> None:
    counter = Counter()

    @FUZZ
    @given(
        base=st.sampled_from(GOOD_PACKETS),
        seed=st.integers(0, 2**32),
        header=st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 2**16 - 1)),
        tail=st.binary(max_size=30),
    )
    def fuzz(base: bytes, seed: int, header: tuple[int, int, int], tail: bytes) -> None:
        rng = random.Random(seed)
        codec = RtpCodec(MediaParams(rng.choice([PCMU, PCMA]), rng.choice([None, 101, 96])))
        for _ in range(BATCH):
            datagram = bytearray(base)
            for _ in range(rng.randrange(4)):
                if datagram:
                    datagram[rng.randrange(len(datagram))] = rng.randrange(256)
            if rng.random() < 0.3:
                datagram[:4] = struct.pack("!BBH", *header)
            if rng.random() < 0.3:
                datagram = datagram[: rng.randrange(len(datagram) + 1)] + tail
            counter()
            try:
                events = codec.receive(bytes(datagram))
            except CarrierProtocolError:
                continue
            assert isinstance(events, list)

    fuzz()
    counter.check()


OFFER_LINES = [
    "v=0",
    "o=phone 1 1 IN IP4 127.0.0.1",
    "s=-",
    "c=IN IP4 127.0.0.1",
    "t=0 0",
    "m=audio 40000 RTP/AVP 0 8 101",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=ptime:20",
    "a=sendrecv",
]
SDP_WORDS = [
    "0", "8", "101", "18", "-1", "99999999", "abc", "", "IN", "IP6", "::1", "0.0.0.0",
    "x.example", "PCMU/8000", "PCMA/8000/2", "telephone-event", "sendonly", "inactive", "a=",
    "m=video 0 RTP/AVP 96", "c=IN IP4", "m=audio", "RTP/SAVP", "²", "\x00", "1" * 30,
]  # fmt: skip


def mutated_offer(rng: random.Random, extra: str) -> str:
    lines = list(OFFER_LINES)
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(lines))
        how = rng.randrange(5)
        if how == 0:
            del lines[at]
        elif how == 1:
            lines.insert(at, rng.choice(OFFER_LINES) if rng.random() < 0.5 else extra)
        else:
            words = lines[at].split(" ")
            words[rng.randrange(len(words))] = rng.choice([*SDP_WORDS, extra])
            lines[at] = " ".join(words)
    return "\r\n".join(lines) + "\r\n"


def test_every_sdp_offer_gets_an_answer_or_a_488() -> None:
    counter = Counter()

    @FUZZ
    @given(seed=st.integers(0, 2**32), extra=st.text(max_size=12))
    def fuzz(seed: int, extra: str) -> None:
        rng = random.Random(seed)
        for _ in range(BATCH):
            text = mutated_offer(rng, extra)
            counter()
            try:
                offer = parse_sdp(text)
            except Exception:
                continue
            try:
                answer, negotiated = sdp.answer(offer, "127.0.0.1", 20000)
            except SdpNegotiationError:
                continue
            _, port = negotiated.remote
            assert 0 <= port <= 65535
            assert answer.audio is not None

    fuzz()
    counter.check()


class Sent:
    def __init__(self) -> None:
        self.refused: list[int] = []
        self.dispatched: list[Any] = []

    def refuse(self, request: SipRequest, status: int, reason: str) -> None:
        self.refused.append(status)


class Transport:
    """Enough of the UDP transport for the screen: a message callback and nothing to send."""

    def __init__(self, dispatch: Any) -> None:
        self.on_message = dispatch

    def send(self, message: object, addr: object) -> None:
        pass


METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REFER", "NOTIFY", "UPDATE", "INFO"]


def request_text(rng: random.Random, method: str, body: str) -> bytes:
    headers = [
        f"{method} sip:bridge@127.0.0.1 SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-f",
        "From: <sip:phone@127.0.0.1>;tag=1",
        "To: <sip:bridge@127.0.0.1>",
        "Call-ID: fuzz",
        f"CSeq: {rng.choice(['1', '2', 'x', '-1', '99999999999'])} {method}",
        "Content-Type: application/sdp",
        f"Content-Length: {len(body.encode())}",
    ]
    if rng.random() < 0.3:
        del headers[rng.randrange(1, len(headers))]
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


def test_every_parsed_sip_request_is_screened_or_dispatched() -> None:
    """Requests that parse pass the screen: a body aiosipua's SDP parser would fail on is
    refused with 400 there, everything else reaches aiosipua, which parses it safely."""
    counter = Counter()
    sent = Sent()
    transport = Transport(lambda message, addr: sent.dispatched.append(message))
    screen = Screen(transport, None, None, {}, sent.refuse)  # type: ignore[arg-type]
    screen.install()

    @FUZZ
    @given(seed=st.integers(0, 2**32), method=st.sampled_from(METHODS), extra=st.text(max_size=8))
    def fuzz(seed: int, method: str, extra: str) -> None:
        rng = random.Random(seed)
        for _ in range(BATCH):
            counter()
            sent.refused.clear()
            sent.dispatched.clear()
            datagram = request_text(rng, method, mutated_offer(rng, extra))
            try:
                message = SipMessage.parse(datagram)
            except Exception:
                continue
            if not isinstance(message, SipRequest):
                continue
            transport.on_message(message, ("127.0.0.1", 5062))
            if sent.dispatched:
                assert not sent.refused
                (request,) = sent.dispatched
                if request.body and request.content_type == "application/sdp":
                    parse_sdp(request.text)  # what aiosipua will do with it: must not raise
            elif method != "ACK":
                assert sent.refused == [400]

    fuzz()
    counter.check()
