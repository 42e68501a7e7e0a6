"""Asterisk AudioSocket codec: TCP chunks of typed frames, reassembled."""

from __future__ import annotations

import uuid

import pytest

from bridge.audio.format import AudioFormat
from bridge.carriers.audiosocket import (
    KIND_AUDIO,
    AudioSocketCarrierSide,
    AudioSocketCodec,
    encode_frame,
)
from bridge.carriers.base import (
    CallEnded,
    CallEvent,
    CallStarted,
    CarrierProtocolError,
    DtmfReceived,
    MediaReceived,
)

CALL = "40325ec2-5efd-4bd3-805f-53576e581d13"
AUDIO = bytes(range(256)) + bytes(range(64))  # 320 bytes: 20 ms at 8 kHz


def conversation() -> tuple[bytes, list[CallEvent]]:
    """A whole inbound stream and the events it must produce."""
    carrier = AudioSocketCarrierSide(CALL)
    stream = (
        carrier.uuid()
        + carrier.media(AUDIO)
        + carrier.dtmf("5")
        + carrier.media(AUDIO[::-1])
        + carrier.hangup()
    )
    events: list[CallEvent] = [
        CallStarted(call_id=CALL, media=AudioFormat("pcm16", 8000)),
        MediaReceived(AUDIO),
        DtmfReceived("5"),
        MediaReceived(AUDIO[::-1]),
        CallEnded("hangup"),
    ]
    return stream, events


def test_uuid_frame_starts_the_call() -> None:
    carrier = AudioSocketCarrierSide(CALL)
    opening = carrier.uuid()
    assert opening[:3] == b"\x01\x00\x10"
    assert opening[3:] == uuid.UUID(CALL).bytes
    [event] = AudioSocketCodec().receive(opening)
    assert event == CallStarted(call_id=CALL, media=AudioFormat("pcm16", 8000))


def test_several_frames_in_one_chunk() -> None:
    stream, events = conversation()
    assert AudioSocketCodec().receive(stream) == events


@pytest.mark.parametrize("cut", range(1, len(conversation()[0])))
def test_a_split_at_any_byte_gives_the_same_events(cut: int) -> None:
    stream, events = conversation()
    codec = AudioSocketCodec()
    assert codec.receive(stream[:cut]) + codec.receive(stream[cut:]) == events


def test_byte_by_byte() -> None:
    stream, events = conversation()
    codec = AudioSocketCodec()
    got: list[CallEvent] = []
    for i in range(len(stream)):
        got += codec.receive(stream[i : i + 1])
    assert got == events
    assert codec.receive(b"") == []


def test_media_round_trip() -> None:
    codec = AudioSocketCodec()
    carrier = AudioSocketCarrierSide(CALL)
    codec.receive(carrier.uuid())
    [out] = codec.media(AUDIO)
    assert isinstance(out, bytes)
    assert out[:3] == bytes([KIND_AUDIO, 0x01, 0x40])  # 320 bytes, big-endian length
    assert carrier.parse(out) == ("media", AUDIO)
    assert codec.media(b"") == []  # Asterisk would reject an empty audio frame


def test_carrier_side_feed_reassembles_chunks() -> None:
    codec = AudioSocketCodec()
    carrier = AudioSocketCarrierSide(CALL)
    frames = codec.media(AUDIO) + codec.media(AUDIO[:160]) + codec.hangup()
    wire = b"".join(f for f in frames if isinstance(f, bytes))
    assert len(wire) == 3 + 320 + 3 + 160 + 3
    got = [*carrier.feed(wire[:5]), *carrier.feed(wire[5:400]), *carrier.feed(wire[400:])]
    assert got == [("media", AUDIO), ("media", AUDIO[:160]), ("hangup", None)]


def test_long_audio_is_split_to_fit_the_length_field() -> None:
    codec = AudioSocketCodec()
    frames = codec.media(bytes(70_000))
    assert [len(f) - 3 for f in frames] == [65_534, 4_466]


def test_no_marks_no_clear_hangup_frame() -> None:
    codec = AudioSocketCodec()
    assert codec.playout_acks == "none"
    assert codec.mark("m") == []
    assert codec.clear() == []
    assert codec.hangup() == [b"\x00\x00\x00"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x01", "error 0x01 (hangup of calling party)"),
        (b"\x06", "error 0x06 (frame forwarding error, memory error)"),
        (b"", "error"),
    ],
)
def test_error_frame_ends_the_call(payload: bytes, reason: str) -> None:
    codec = AudioSocketCodec()
    [_, ended] = codec.receive(AudioSocketCarrierSide(CALL).uuid() + encode_frame(0xFF, payload))
    assert ended == CallEnded(reason)


def test_sixteen_khz_channel_driver() -> None:
    codec = AudioSocketCodec(sample_rate=16000)
    carrier = AudioSocketCarrierSide(CALL, sample_rate=16000)
    [started] = codec.receive(carrier.uuid())
    assert isinstance(started, CallStarted)
    assert started.media.frame_bytes == 640
    assert codec.receive(carrier.media(bytes(640))) == [MediaReceived(bytes(640))]
    [out] = codec.media(bytes(640))
    assert isinstance(out, bytes)
    assert out[0] == 0x12
    with pytest.raises(CarrierProtocolError, match="set up for 16000 Hz"):
        codec.receive(encode_frame(KIND_AUDIO, bytes(320)))


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (encode_frame(0x42, b"xy"), "unknown frame kind 0x42"),
        (encode_frame(KIND_AUDIO, b"\x00\x00\x00"), "whole number of samples"),
        (encode_frame(KIND_AUDIO, b""), "whole number of samples"),
        (encode_frame(0x03, b"55"), "invalid digit"),
        (encode_frame(0x03, b"x"), "invalid digit"),
        (encode_frame(0x01, uuid.UUID(CALL).bytes), "second UUID"),
    ],
)
def test_malformed_frames(frame: bytes, message: str) -> None:
    codec = AudioSocketCodec()
    codec.receive(AudioSocketCarrierSide(CALL).uuid())
    with pytest.raises(CarrierProtocolError, match=message):
        codec.receive(frame)


def test_frames_before_the_uuid_and_short_uuid() -> None:
    with pytest.raises(CarrierProtocolError, match="before the UUID"):
        AudioSocketCodec().receive(encode_frame(KIND_AUDIO, AUDIO))
    with pytest.raises(CarrierProtocolError, match="needs 16"):
        AudioSocketCodec().receive(encode_frame(0x01, b"\x00" * 8))


def test_text_is_a_protocol_error() -> None:
    with pytest.raises(CarrierProtocolError, match="binary TCP stream"):
        AudioSocketCodec().receive('{"event":"start"}')


def test_a_bad_frame_is_dropped_without_losing_its_neighbours() -> None:
    carrier = AudioSocketCarrierSide(CALL)
    codec = AudioSocketCodec()
    chunk = carrier.uuid() + encode_frame(0x42, b"?") + carrier.media(AUDIO)
    with pytest.raises(CarrierProtocolError, match="0x42"):
        codec.receive(chunk)
    # The UUID parsed before the bad frame and the audio after it both still arrive.
    assert codec.receive(carrier.dtmf("9")) == [
        CallStarted(call_id=CALL, media=AudioFormat("pcm16", 8000)),
        MediaReceived(AUDIO),
        DtmfReceived("9"),
    ]


def test_carrier_side_rejects_what_asterisk_would() -> None:
    carrier = AudioSocketCarrierSide(CALL)
    with pytest.raises(CarrierProtocolError, match="empty audio"):
        carrier.parse(encode_frame(KIND_AUDIO))
    with pytest.raises(CarrierProtocolError, match="kind 0x03"):
        carrier.parse(encode_frame(0x03, b"1"))
    with pytest.raises(CarrierProtocolError, match="exactly one whole frame"):
        carrier.parse(encode_frame(KIND_AUDIO, AUDIO)[:-1])
    with pytest.raises(CarrierProtocolError, match="exactly one whole frame"):
        carrier.parse(encode_frame(KIND_AUDIO, AUDIO) * 2)
    with pytest.raises(CarrierProtocolError, match="whole samples"):
        carrier.feed(encode_frame(KIND_AUDIO, b"\x00"))
