"""Offer checks: what aiortc would choke on late is refused early, with a reason."""

from __future__ import annotations

import pytest

from bridge.webrtc.sdp import (
    SdpError,
    check_offer,
    rewrite_candidates,
    sent_audio_codec,
    strip_candidates,
)

OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=fingerprint:sha-256 AB:CD",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0",
        "c=IN IP4 0.0.0.0",
        "a=mid:0",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:abcdefghijklmnopqrstuv",
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:0 PCMU/8000",
        "a=candidate:1 1 udp 2130706431 192.168.1.2 5000 typ host",
        "a=candidate:2 1 udp 1694498815 203.0.113.9 6000 typ srflx raddr 0.0.0.0 rport 0",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "a=mid:1",
        "a=sctp-port:5000",
        "a=max-message-size:262144",
        "",
    ]
)


def test_a_browser_offer_is_summarized() -> None:
    summary = check_offer(OFFER)
    assert summary.audio_codecs == ("opus", "pcmu")
    assert summary.has_data_channel
    assert summary.candidates == 2
    assert summary.max_message_size == 262_144


def test_an_offer_without_candidates_is_fine() -> None:
    summary = check_offer(strip_candidates(OFFER))
    assert summary.candidates == 0
    assert "a=candidate" not in strip_candidates(OFFER)


@pytest.mark.parametrize(
    ("sdp", "reason"),
    [
        ("", "must start with 'v=0'"),
        ("hello world", "must start with 'v=0'"),
        ("v=0\r\nthis is not sdp\r\n", "Malformed SDP line"),
        (OFFER.replace("m=audio", "m=video"), "no audio m-line"),
        (OFFER.replace("a=fingerprint:sha-256 AB:CD\r\n", ""), "DTLS fingerprint"),
        (OFFER.replace("a=ice-ufrag:abcd\r\n", ""), "ice-ufrag"),
        (
            OFFER.replace("opus/48000/2", "G722/8000")
            .replace("111 0", "111")
            .replace("a=rtpmap:0 PCMU/8000\r\n", ""),
            "no codec",
        ),
        (OFFER.replace("m=audio 9 UDP", "m=audio x UDP"), "Malformed audio m-line"),
        ("v=0\r\n" + "a=x:" + "y" * 70_000, "larger than"),
    ],
)
def test_bad_offers_are_refused_with_a_reason(sdp: str, reason: str) -> None:
    with pytest.raises(SdpError, match=reason):
        check_offer(sdp)


def test_candidates_are_kept_to_the_configured_addresses() -> None:
    answer = OFFER.replace(
        "a=candidate:2", "a=candidate:3 1 udp 2130706431 10.0.0.7 7000 typ host\r\na=candidate:2"
    )
    kept = rewrite_candidates(answer, host_addresses=frozenset({"10.0.0.7"}))
    assert "10.0.0.7 7000 typ host" in kept
    assert "192.168.1.2" not in kept
    assert "typ srflx" in kept  # only host candidates are filtered


def test_an_advertised_address_replaces_host_candidates() -> None:
    out = rewrite_candidates(OFFER, advertised="198.51.100.4")
    assert "198.51.100.4 5000 typ host" in out
    assert "c=IN IP4 198.51.100.4" in out
    assert rewrite_candidates(OFFER) == OFFER


def test_the_codec_an_answer_sends_is_its_first_audio_payload_type() -> None:
    def answer(m_line: str, *rtpmaps: str) -> str:
        return "\r\n".join(["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", m_line, *rtpmaps])

    opus = answer(
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:111 opus/48000/2",
    )
    assert sent_audio_codec(opus) == "opus"
    assert sent_audio_codec(answer("m=audio 9 UDP/TLS/RTP/SAVPF 8 0")) == "pcma"  # static
    assert sent_audio_codec(answer("m=audio 9 UDP/TLS/RTP/SAVPF 96")) is None  # unnamed
    no_audio = answer("m=application 9 UDP/DTLS/SCTP webrtc-datachannel")
    assert sent_audio_codec(no_audio) is None
