"""Plivo Audio Streaming: the codec against what Plivo sends and accepts."""

from __future__ import annotations

import json
import re

import pytest

from bridge.audio.format import AudioFormat
from bridge.carriers.base import (
    AudioCleared,
    CallStarted,
    CarrierProtocolError,
    DtmfReceived,
    Ignored,
    MarkPlayed,
    MediaReceived,
)
from bridge.carriers.plivo import (
    PlivoCarrierSide,
    PlivoCodec,
    PlivoContentType,
    parse_extra_headers,
)

ULAW_FRAME = bytes(range(96, 256))  # 20 ms of 8 kHz μ-law


def started(side: PlivoCarrierSide) -> tuple[PlivoCodec, CallStarted]:
    codec = PlivoCodec()
    [event] = codec.receive(side.start())
    assert isinstance(event, CallStarted)
    return codec, event


def test_start_reports_ids_format_and_extra_headers() -> None:
    side = PlivoCarrierSide(extra_headers="userId=12345;From=15551230000")
    codec, event = started(side)
    assert event == CallStarted(
        call_id=side.call_id,
        media=AudioFormat("pcmu", 8000),
        stream_id=side.stream_id,
        from_number="15551230000",
        parameters={"userId": "12345", "From": "15551230000"},
    )
    assert (codec.call_id, codec.stream_id) == (side.call_id, side.stream_id)


@pytest.mark.parametrize(
    ("content_type", "rate", "expected"),
    [
        ("audio/x-mulaw", 8000, AudioFormat("pcmu", 8000)),
        ("audio/x-l16", 8000, AudioFormat("pcm16", 8000)),
        ("audio/x-l16", 16000, AudioFormat("pcm16", 16000)),
    ],
)
def test_negotiated_format_is_honoured_both_ways(
    content_type: PlivoContentType, rate: int, expected: AudioFormat
) -> None:
    side = PlivoCarrierSide(content_type=content_type, sample_rate=rate)
    codec, event = started(side)
    assert event.media == expected
    audio = expected.silence
    [frame] = codec.media(audio)
    media = json.loads(frame)["media"]
    assert (media["contentType"], media["sampleRate"]) == (content_type, rate)
    assert side.parse(frame) == ("media", audio)
    assert codec.receive(side.media(audio)) == [MediaReceived(audio)]


def test_carrier_frames_look_like_plivo() -> None:
    side = PlivoCarrierSide(extra_headers="a=1")
    start = json.loads(side.start())
    assert start["sequenceNumber"] == 1  # Plivo counts with numbers, not strings
    assert start["extra_headers"] == "a=1"
    assert start["start"]["tracks"] == ["inbound"]
    assert start["start"]["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000}
    first, second = json.loads(side.media(ULAW_FRAME)), json.loads(side.media(ULAW_FRAME))
    assert first["streamId"] == side.stream_id
    assert (first["sequenceNumber"], first["media"]["chunk"]) == (2, 1)
    assert int(second["media"]["timestamp"]) - int(first["media"]["timestamp"]) == 20
    assert json.loads(side.dtmf("5"))["dtmf"]["track"] == "inbound"
    assert json.loads(side.played("m1")) == {
        "event": "playedStream",
        "sequenceNumber": 5,
        "streamId": side.stream_id,
        "name": "m1",
    }
    assert json.loads(side.cleared())["event"] == "clearedAudio"


def test_media_dtmf_checkpoint_echo_and_clear_ack() -> None:
    side = PlivoCarrierSide()
    codec, _ = started(side)
    assert codec.receive(side.media(ULAW_FRAME)) == [MediaReceived(ULAW_FRAME)]
    assert codec.receive(side.dtmf("7")) == [DtmfReceived("7")]
    assert codec.receive(side.played("m1")) == [MarkPlayed("m1")]
    assert codec.receive(side.cleared()) == [AudioCleared()]
    legacy = json.dumps({"event": "played", "streamId": side.stream_id, "name": "m2"})
    assert codec.receive(legacy) == [MarkPlayed("m2")]


def test_outbound_track_is_ignored() -> None:
    side = PlivoCarrierSide()
    codec, _ = started(side)
    frame = json.loads(side.media(ULAW_FRAME))
    frame["media"]["track"] = "outbound"
    assert codec.receive(json.dumps(frame)) == [Ignored("outbound track")]


def test_outbound_frames_are_what_plivo_accepts() -> None:
    side = PlivoCarrierSide()
    codec, _ = started(side)
    [checkpoint] = codec.mark("m9")
    assert json.loads(checkpoint) == {
        "event": "checkpoint",
        "streamId": side.stream_id,
        "name": "m9",
    }
    assert side.parse(checkpoint) == ("mark", "m9")
    [clear] = codec.clear()
    assert json.loads(clear) == {"event": "clearAudio", "streamId": side.stream_id}
    assert side.parse(clear) == ("clear", None)
    assert codec.hangup() == []
    assert side.parse(checkpoint)[1] == "m9"
    assert codec.receive(side.played("m9")) == [MarkPlayed("m9")]


def test_no_stop_frame_exists() -> None:
    assert not hasattr(PlivoCarrierSide(), "stop")
    with pytest.raises(CarrierProtocolError, match="unknown Plivo event 'stop'"):
        PlivoCodec().receive('{"event": "stop"}')


def test_media_before_start_is_an_error() -> None:
    with pytest.raises(CarrierProtocolError, match="before start"):
        PlivoCodec().media(ULAW_FRAME)


def test_carrier_side_rejects_what_plivo_would() -> None:
    side = PlivoCarrierSide()
    codec, _ = started(side)
    l16 = PlivoCarrierSide(content_type="audio/x-l16", sample_rate=16000)
    with pytest.raises(CarrierProtocolError, match="contentType"):
        l16.parse(codec.media(ULAW_FRAME)[0])
    wrong_rate = {"contentType": "audio/x-mulaw", "sampleRate": 16000, "payload": "AAAA"}
    with pytest.raises(CarrierProtocolError, match="sampleRate"):
        side.parse(json.dumps({"event": "playAudio", "media": wrong_rate}))
    as_text = {"contentType": "audio/x-mulaw", "sampleRate": "8000", "payload": "AAAA"}
    assert side.parse(json.dumps({"event": "playAudio", "media": as_text})) == ("media", b"\0\0\0")
    with pytest.raises(CarrierProtocolError, match="stream"):
        side.parse(json.dumps({"event": "clearAudio", "streamId": "other"}))
    with pytest.raises(CarrierProtocolError, match="without a name"):
        side.parse(json.dumps({"event": "checkpoint", "streamId": side.stream_id}))
    with pytest.raises(CarrierProtocolError, match="'media'"):
        side.parse(json.dumps({"event": "media", "media": {"payload": "AAAA"}}))
    with pytest.raises(ValueError, match="does not stream"):
        PlivoCarrierSide(content_type="audio/x-mulaw", sample_rate=16000)


def test_extra_headers_parsing() -> None:
    assert parse_extra_headers("a=1,b=2;c=x=y") == {"a": "1", "b": "2", "c": "x=y"}
    assert parse_extra_headers("junk;=1") == {}
    assert parse_extra_headers(None) == {}


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("{not json", "invalid JSON"),
        (b'{"event": "media"}', "binary"),
        ('{"event": "media", "media": {"payload": "@@@@"}}', "base64"),
        ('{"event": "dtmf", "dtmf": {"digit": ""}}', "invalid digit"),
        ('{"event": "playedStream"}', "without a name"),
        ('{"event": "start", "start": {"streamId": "s"}}', "callId"),
        ('{"event": "start", "start": {"callId": "c"}}', "streamId"),
        ('{"event": "start", "start": {"callId": "c", "streamId": "s"}}', "mediaFormat"),
        (
            '{"event": "start", "start": {"callId": "c", "streamId": "s", '
            '"mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 16000}}}',
            "unsupported Plivo media format",
        ),
        (
            '{"event": "start", "start": {"callId": "c", "streamId": "s", '
            '"mediaFormat": {"encoding": "audio/x-l16", "sampleRate": "fast"}}}',
            "not a whole number",
        ),
        ('{"event": "connected"}', "unknown Plivo event 'connected'"),
    ],
)
def test_malformed_frames_raise(frame: str | bytes, message: str) -> None:
    with pytest.raises(CarrierProtocolError, match=re.escape(message)):
        PlivoCodec().receive(frame)
