"""Offer/answer for G.711 calls."""

import pytest
from aiosipua import SdpNegotiationError, parse_sdp, serialize_sdp

from bridge.sip import sdp
from bridge.sip.rtp import PCMA, PCMU, MediaParams


def offer_text(formats: str, extra: str = "", address: str = "192.0.2.7") -> str:
    lines = [
        "v=0",
        f"o=- 1 1 IN IP4 {address}",
        "s=-",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio 7078 RTP/AVP {formats}",
        "a=rtpmap:96 telephone-event/8000",
        "a=ptime:30",
    ]
    return "\r\n".join(lines + ([extra] if extra else [])) + "\r\n"


def test_the_first_offered_law_wins_and_the_peers_event_type_is_kept() -> None:
    answer, negotiated = sdp.answer(parse_sdp(offer_text("8 0 96")), "127.0.0.1", 4000)
    assert negotiated == sdp.Negotiated(MediaParams(PCMA, 96), ("192.0.2.7", 7078), held=False)
    text = serialize_sdp(answer)
    assert "m=audio 4000 RTP/AVP 8 96" in text
    assert "a=ptime:20" in text  # what we send, though the peer sends 30 ms
    assert "a=sendrecv" in text


@pytest.mark.parametrize(
    ("extra", "address", "direction"),
    [
        ("a=sendonly", "192.0.2.7", "a=recvonly"),
        ("a=inactive", "192.0.2.7", "a=inactive"),
        ("", "0.0.0.0", "a=sendrecv"),
    ],
)
def test_a_peer_that_holds_the_call_is_seen_holding(
    extra: str, address: str, direction: str
) -> None:
    answer, negotiated = sdp.answer(parse_sdp(offer_text("0", extra, address)), "127.0.0.1", 4000)
    assert negotiated.held
    assert direction in serialize_sdp(answer)


def test_an_offer_without_g711_is_refused() -> None:
    with pytest.raises(SdpNegotiationError):
        sdp.answer(parse_sdp(offer_text("9 96")), "127.0.0.1", 4000)


def test_our_offer_lists_both_laws_and_events_and_an_answer_settles_them() -> None:
    offer = serialize_sdp(sdp.offer("127.0.0.1", 5000))
    assert "m=audio 5000 RTP/AVP 0 8 101" in offer
    assert "a=rtpmap:8 PCMA/8000" in offer
    assert "a=rtpmap:101 telephone-event/8000" in offer
    answer, _ = sdp.answer(parse_sdp(offer), "192.0.2.9", 6000)
    assert sdp.accept(answer) == sdp.Negotiated(
        MediaParams(PCMU, 101), ("192.0.2.9", 6000), held=False
    )
