"""RTP media as a carrier codec: packets in and out, keys, late packets, the two G.711 laws."""

import random
import struct

import numpy as np
import pytest
from aiortp.packet import RtpPacket

from bridge.audio.g711 import pcm16_to_alaw, pcm16_to_ulaw
from bridge.carriers.base import CarrierProtocolError, DtmfReceived, Ignored, MediaReceived
from bridge.sip.rtp import (
    PCMA,
    PCMU,
    MediaParams,
    RtpCodec,
    RtpPhone,
    RtpReceiver,
    RtpSender,
    decode,
)

PARAMS = MediaParams(PCMU, 101)


def packet(
    seq: int, payload: bytes = b"\xff" * 160, pt: int = PCMU, ssrc: int = 7, ts: int = 0
) -> bytes:
    return RtpPacket(pt, 0, seq, ts, ssrc, payload).serialize()


def tone(samples: int = 160) -> bytes:
    t = np.arange(samples) / 8000
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


def test_sender_numbers_packets_and_advances_the_clock_by_the_samples_sent() -> None:
    sender = RtpSender(PARAMS, random.Random(1))
    first, second = (RtpPacket.parse(sender.audio(b"\xff" * n)) for n in (160, 240))
    assert (second.sequence_number - first.sequence_number) & 0xFFFF == 1
    assert (second.timestamp - first.timestamp) & 0xFFFFFFFF == 160
    assert first.marker == 1
    assert second.marker == 0
    assert first.ssrc == second.ssrc
    assert first.payload_type == PCMU


def test_a_key_press_is_rfc_4733_events_with_one_timestamp_and_three_end_packets() -> None:
    sender = RtpSender(PARAMS, random.Random(2))
    before = RtpPacket.parse(sender.audio(b"\xff" * 160)).timestamp
    packets = sender.dtmf("5", duration_ms=160)
    parsed = [RtpPacket.parse(build()) for _, build in packets]
    assert {p.payload_type for p in parsed} == {101}
    assert {p.timestamp for p in parsed} == {(before + 160) & 0xFFFFFFFF}
    events = [struct.unpack("!BBH", p.payload) for p in parsed]
    assert all(event == 5 for event, _, _ in events)
    assert [bool(flags & 0x80) for _, flags, _ in events][-3:] == [True, True, True]
    assert events[-1][2] == 160 * 8  # duration in timestamp units
    assert [at for at, _ in packets] == [0, 50, 100, 150, 160, 160, 160]
    after = RtpPacket.parse(sender.audio(b"\xff" * 160)).timestamp
    assert (after - before) & 0xFFFFFFFF == 160 + 160 * 8  # audio resumes past the event


def test_a_key_the_peer_did_not_negotiate_is_refused() -> None:
    with pytest.raises(ValueError, match="telephone-event"):
        RtpSender(MediaParams(PCMU, None)).dtmf("1")
    with pytest.raises(ValueError, match="not a DTMF key"):
        RtpSender(PARAMS).dtmf("x")


def test_each_key_press_is_reported_once_however_often_it_is_repeated() -> None:
    phone = RtpPhone(PARAMS, random.Random(3))
    receiver = RtpReceiver(PARAMS)
    events = [e for digit in "12" for p in phone.dtmf(digit) for e in receiver.receive(p)]
    assert [e for e in events if isinstance(e, DtmfReceived)] == [
        DtmfReceived("1"),  # at the first packet: how long it is held is not known yet
        DtmfReceived("2"),
    ]
    lone_end = RtpReceiver(PARAMS).receive(phone.dtmf("3")[-1])  # the start packets were lost
    assert lone_end == [DtmfReceived("3", 160)]


def test_late_and_duplicate_packets_are_dropped_and_a_new_ssrc_starts_afresh() -> None:
    receiver = RtpReceiver(PARAMS)
    kinds = [type(e[0]) for e in (receiver.receive(packet(seq)) for seq in (10, 11, 11, 9, 12))]
    assert kinds == [MediaReceived, MediaReceived, Ignored, Ignored, MediaReceived]
    assert isinstance(receiver.receive(packet(5, ssrc=99))[0], MediaReceived)
    assert isinstance(receiver.receive(packet(0xFFFF, ssrc=99))[0], Ignored)  # behind 5
    # Sequence numbers wrap: 65535 -> 0 is in order.
    wrap = RtpReceiver(PARAMS)
    assert isinstance(wrap.receive(packet(0xFFFF))[0], MediaReceived)
    assert isinstance(wrap.receive(packet(0))[0], MediaReceived)


def test_any_packet_time_is_accepted() -> None:
    receiver = RtpReceiver(PARAMS)
    (event,) = receiver.receive(packet(1, b"\xff" * 240))  # 30 ms, as sipp's capture sends
    assert event == MediaReceived(b"\xff" * 240)


def test_pcma_keeps_the_sign_of_every_sample() -> None:
    pcm = tone()
    decoded = np.frombuffer(decode(pcm16_to_alaw(pcm), PCMA), "<i2").astype(float)
    original = np.frombuffer(pcm, "<i2").astype(float)
    assert np.corrcoef(decoded, original)[0, 1] > 0.99  # aiortp's decoder gives -1 here


def test_the_other_law_is_transcoded_to_the_calls_format() -> None:
    receiver = RtpReceiver(PARAMS)  # the call is PCMU
    (event,) = receiver.receive(packet(1, pcm16_to_alaw(tone()), pt=PCMA))
    assert isinstance(event, MediaReceived)
    again = np.frombuffer(decode(event.audio, PCMU), "<i2").astype(float)
    assert np.corrcoef(again, np.frombuffer(tone(), "<i2").astype(float))[0, 1] > 0.99


def test_rtcp_and_unknown_payload_types_are_ignored_and_garbage_is_an_error() -> None:
    receiver = RtpReceiver(PARAMS)
    rtcp = bytes([0x80, 200]) + bytes(26)
    assert receiver.receive(rtcp) == [Ignored("rtcp")]
    assert receiver.receive(packet(1, pt=96)) == [Ignored("payload type 96")]
    with pytest.raises(CarrierProtocolError, match="not an RTP packet"):
        receiver.receive(b"\x00\x01garbage")
    with pytest.raises(CarrierProtocolError):
        RtpCodec(PARAMS).receive("text")


def test_codec_sends_in_the_renegotiated_law_and_nothing_while_held() -> None:
    codec = RtpCodec(PARAMS)
    ulaw = pcm16_to_ulaw(tone())
    (sent,) = codec.media(ulaw)
    assert RtpPacket.parse(bytes(sent)).payload == ulaw
    codec.renegotiate(MediaParams(PCMA, 101))
    (sent,) = codec.media(ulaw)
    parsed = RtpPacket.parse(bytes(sent))
    assert parsed.payload_type == PCMA
    assert (
        np.corrcoef(
            np.frombuffer(decode(parsed.payload, PCMA), "<i2").astype(float),
            np.frombuffer(tone(), "<i2").astype(float),
        )[0, 1]
        > 0.99
    )
    codec.sending = False
    assert codec.media(ulaw) == []
    assert codec.mark("m") == []
    assert codec.clear() == []
    assert codec.hangup() == []


def test_an_empty_datagram_stands_for_20_ms_of_silence_in_the_calls_law() -> None:
    assert RtpCodec(MediaParams(PCMA, None)).receive(b"") == [MediaReceived(b"\xd5" * 160)]
    assert RtpCodec(PARAMS).receive(b"") == [MediaReceived(b"\xff" * 160)]
