"""Telnyx Media Streaming: the codec against what Telnyx sends and accepts."""

from __future__ import annotations

import json
import re

import pytest

from bridge.audio.format import AudioFormat
from bridge.carriers.base import (
    CallEnded,
    CallStarted,
    CarrierProtocolError,
    DtmfReceived,
    Ignored,
    MarkPlayed,
    MediaReceived,
)
from bridge.carriers.telnyx import (
    STREAM_TOKEN_HEADER,
    TelnyxCarrierSide,
    TelnyxCodec,
    stream_token_valid,
)

ULAW_FRAME = bytes(range(96, 256))  # 160 bytes: 20 ms of 8 kHz G.711


def started(side: TelnyxCarrierSide) -> tuple[TelnyxCodec, CallStarted]:
    codec = TelnyxCodec()
    assert codec.receive(side.connected()) == [Ignored("connected")]
    [event] = codec.receive(side.start())
    assert isinstance(event, CallStarted)
    return codec, event


def test_start_reports_ids_numbers_parameters_and_pcmu() -> None:
    side = TelnyxCarrierSide(parameters={"customer_id": "c-123"})
    codec, event = started(side)
    assert event == CallStarted(
        call_id=side.call_control_id,
        media=AudioFormat("pcmu", 8000),
        stream_id=side.stream_id,
        from_number="+13125550100",
        to_number="+13125550199",
        parameters={"customer_id": "c-123"},
    )
    assert codec.stream_id == side.stream_id
    assert codec.call_control_id == side.call_control_id


def test_pcma_calls_stay_pcma() -> None:
    side = TelnyxCarrierSide(encoding="PCMA")
    codec, event = started(side)
    assert event.media == AudioFormat("pcma", 8000)
    assert event.media.silence == b"\xd5" * 160
    alaw = bytes([0xD5]) * 160
    assert side.parse(codec.media(alaw)[0]) == ("media", alaw)


def test_carrier_frames_look_like_telnyx() -> None:
    side = TelnyxCarrierSide(auth_token="tok")
    connected = json.loads(side.connected())
    assert connected == {
        "event": "connected",
        "version": "1.0.0",
        "connected": {STREAM_TOKEN_HEADER: "tok"},
    }
    start = json.loads(side.start())
    assert start["sequence_number"] == "1"
    assert set(start["start"]) >= {"call_control_id", "call_session_id", "user_id", "from", "to"}
    assert start["start"]["media_format"] == {
        "encoding": "PCMU",
        "sample_rate": 8000,
        "channels": 1,
    }
    media = json.loads(side.media(ULAW_FRAME))
    assert media["sequence_number"] == "2"
    assert media["media"]["track"] == "inbound"
    assert (media["media"]["chunk"], media["media"]["timestamp"]) == ("1", "0")
    assert json.loads(side.media(ULAW_FRAME))["media"]["timestamp"] == "20"
    assert json.loads(side.stop())["stop"]["call_control_id"] == side.call_control_id


def test_media_dtmf_mark_and_stop_become_events() -> None:
    side = TelnyxCarrierSide()
    codec, _ = started(side)
    assert codec.receive(side.media(ULAW_FRAME)) == [MediaReceived(ULAW_FRAME)]
    assert codec.receive(side.dtmf("#")) == [DtmfReceived("#")]
    assert codec.receive(side.mark("m1")) == [MarkPlayed("m1")]
    assert codec.receive(side.stop()) == [CallEnded("stop")]


def test_outbound_track_is_ignored() -> None:
    side = TelnyxCarrierSide()
    codec, _ = started(side)
    frame = json.loads(side.media(ULAW_FRAME))
    frame["media"]["track"] = "outbound"
    assert codec.receive(json.dumps(frame)) == [Ignored("outbound track")]


def test_error_frames_are_logged_not_fatal() -> None:
    side = TelnyxCarrierSide()
    codec, _ = started(side)
    [event] = codec.receive(side.error(100003, "Malformed frame", "bad json"))
    assert isinstance(event, Ignored)
    assert "100003" in event.what
    assert "Malformed frame" in event.what


def test_outbound_frames_are_what_telnyx_accepts() -> None:
    side = TelnyxCarrierSide()
    codec, _ = started(side)
    [media] = codec.media(ULAW_FRAME)
    assert json.loads(media) == {
        "event": "media",
        "media": {"payload": json.loads(media)["media"]["payload"]},
    }
    assert side.parse(media) == ("media", ULAW_FRAME)
    assert [side.parse(f) for f in codec.mark("m7")] == [("mark", "m7")]
    assert [side.parse(f) for f in codec.clear()] == [("clear", None)]
    assert codec.hangup() == []


def test_mark_round_trip_through_the_carrier() -> None:
    side = TelnyxCarrierSide()
    codec, _ = started(side)
    kind, name = side.parse(codec.mark("m3")[0])
    assert kind == "mark"
    assert codec.receive(side.mark(name)) == [MarkPlayed("m3")]


def test_carrier_side_rejects_what_telnyx_would() -> None:
    side = TelnyxCarrierSide()
    with pytest.raises(CarrierProtocolError, match="20 ms to 30 s"):
        side.parse(json.dumps({"event": "media", "media": {"payload": "AAAA"}}))
    with pytest.raises(CarrierProtocolError, match=re.escape("mark.name")):
        side.parse(json.dumps({"event": "mark", "mark": {}}))
    with pytest.raises(CarrierProtocolError, match="'playAudio'"):
        side.parse(json.dumps({"event": "playAudio"}))
    with pytest.raises(CarrierProtocolError, match="binary"):
        side.parse(b"\x00\x01")


def test_stream_token() -> None:
    side = TelnyxCarrierSide(auth_token="s3cret")
    codec = TelnyxCodec()
    codec.receive(side.connected())
    assert codec.auth_token == "s3cret"
    assert stream_token_valid(side.upgrade_headers()[STREAM_TOKEN_HEADER], "s3cret")
    assert not stream_token_valid("s3cre", "s3cret")
    assert not stream_token_valid(None, "s3cret")
    assert not stream_token_valid("", "")
    assert TelnyxCarrierSide().upgrade_headers() == {}


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("{not json", "invalid JSON"),
        (b'{"event": "media"}', "binary"),
        ("[1, 2]", "JSON object"),
        ('{"event": "media", "media": {"payload": "***"}}', "base64"),
        ('{"event": "media"}', "without a media object"),
        ('{"event": "dtmf", "dtmf": {}}', "invalid digit"),
        ('{"event": "mark", "mark": {}}', "mark.name"),
        ('{"event": "start"}', "without a start object"),
        ('{"event": "start", "start": {"media_format": {}}}', "call_control_id"),
        ('{"event": "start", "start": {"call_control_id": "v3:x"}}', "media_format"),
        ('{"event": "hello"}', "unknown Telnyx event 'hello'"),
    ],
)
def test_malformed_frames_raise(frame: str | bytes, message: str) -> None:
    with pytest.raises(CarrierProtocolError, match=re.escape(message)):
        TelnyxCodec().receive(frame)


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ({"encoding": "OPUS", "sample_rate": 48000, "channels": 1}, "unsupported Telnyx encoding"),
        ({"encoding": "PCMU", "sample_rate": 16000, "channels": 1}, "8000 Hz"),
    ],
)
def test_unsupported_formats_raise(fmt: dict[str, object], message: str) -> None:
    start = json.loads(TelnyxCarrierSide().start())
    start["start"]["media_format"] = fmt
    with pytest.raises(CarrierProtocolError, match=re.escape(message)):
        TelnyxCodec().receive(json.dumps(start))
