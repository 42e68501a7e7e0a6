"""Twilio Media Streams: the codec against what Twilio sends and accepts."""

from __future__ import annotations

import base64
import json
import re
from xml.etree import ElementTree

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
from bridge.carriers.twilio import (
    TwilioCarrierSide,
    TwilioCodec,
    connect_stream_twiml,
    twilio_signature,
    valid_twilio_signature,
)

ULAW_FRAME = bytes(range(96, 256))  # 160 bytes: 20 ms of 8 kHz μ-law


def started(side: TwilioCarrierSide) -> tuple[TwilioCodec, CallStarted]:
    codec = TwilioCodec()
    assert codec.receive(side.connected()) == [Ignored("connected")]
    [event] = codec.receive(side.start())
    assert isinstance(event, CallStarted)
    return codec, event


def test_start_reports_call_stream_numbers_and_parameters() -> None:
    side = TwilioCarrierSide(parameters={"From": "+15551230001", "To": "+15551230002", "k": "v"})
    codec, event = started(side)
    assert event == CallStarted(
        call_id=side.call_sid,
        media=AudioFormat("pcmu", 8000),
        stream_id=side.stream_sid,
        from_number="+15551230001",
        to_number="+15551230002",
        parameters={"From": "+15551230001", "To": "+15551230002", "k": "v"},
    )
    assert codec.stream_sid == side.stream_sid
    assert codec.playout_acks == "mark"


def test_stream_sid_falls_back_to_the_top_level_field() -> None:
    start = json.loads(TwilioCarrierSide(stream_sid="MZtop").start())
    del start["start"]["streamSid"]
    codec = TwilioCodec()
    [event] = codec.receive(json.dumps(start))
    assert isinstance(event, CallStarted)
    assert (event.stream_id, codec.stream_sid) == ("MZtop", "MZtop")


def test_media_dtmf_mark_and_stop_become_events() -> None:
    side = TwilioCarrierSide()
    codec, _ = started(side)
    assert codec.receive(side.media(ULAW_FRAME)) == [MediaReceived(ULAW_FRAME)]
    assert codec.receive(side.dtmf("#")) == [DtmfReceived("#")]
    assert codec.receive(side.mark("m1")) == [MarkPlayed("m1")]
    assert codec.receive(side.stop()) == [CallEnded("stop")]


def test_carrier_frames_count_like_twilio() -> None:
    side = TwilioCarrierSide()
    assert json.loads(side.start())["sequenceNumber"] == "1"
    first = json.loads(side.media(ULAW_FRAME))
    assert (first["sequenceNumber"], first["media"]["chunk"]) == ("2", "1")
    assert first["media"]["timestamp"] == "0"
    assert json.loads(side.media(ULAW_FRAME))["media"]["timestamp"] == "20"


def test_outbound_track_is_ignored() -> None:
    side = TwilioCarrierSide()
    codec, _ = started(side)
    frame = json.loads(side.media(ULAW_FRAME))
    frame["media"]["track"] = "outbound"
    assert codec.receive(json.dumps(frame)) == [Ignored("outbound track")]


def test_outbound_frames_are_what_twilio_accepts() -> None:
    side = TwilioCarrierSide()
    codec, _ = started(side)
    [media] = codec.media(ULAW_FRAME)
    assert json.loads(media) == {
        "event": "media",
        "streamSid": side.stream_sid,
        "media": {"payload": base64.b64encode(ULAW_FRAME).decode()},
    }
    assert side.parse(media) == ("media", ULAW_FRAME)
    [mark] = codec.mark("m7")
    assert json.loads(mark) == {
        "event": "mark",
        "streamSid": side.stream_sid,
        "mark": {"name": "m7"},
    }
    assert side.parse(mark) == ("mark", "m7")
    [clear] = codec.clear()
    assert json.loads(clear) == {"event": "clear", "streamSid": side.stream_sid}
    assert side.parse(clear) == ("clear", None)
    assert codec.hangup() == []


def test_several_frames_go_in_one_media_message() -> None:
    side = TwilioCarrierSide()
    codec, _ = started(side)
    assert codec.joins_frames
    [media] = codec.media(ULAW_FRAME * 3)
    assert side.parse(media) == ("media", ULAW_FRAME * 3)


def test_mark_round_trip_through_the_carrier() -> None:
    side = TwilioCarrierSide()
    codec, _ = started(side)
    kind, name = side.parse(codec.mark("m3")[0])
    assert kind == "mark"
    assert codec.receive(side.mark(name)) == [MarkPlayed("m3")]


def test_carrier_side_rejects_what_twilio_would() -> None:
    side = TwilioCarrierSide()
    with pytest.raises(CarrierProtocolError, match="'playAudio'"):
        side.parse(json.dumps({"event": "playAudio"}))
    with pytest.raises(CarrierProtocolError, match="binary"):
        side.parse(b"\x00\x01")


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("{not json", "invalid JSON"),
        (b'{"event": "media"}', "binary"),
        ("[1, 2]", "JSON object"),
        ('{"event": "media", "media": {"payload": "***"}}', "base64"),
        ('{"event": "media", "media": {"payload": 7}}', "base64 string"),
        ('{"event": "media"}', "without a media object"),
        ('{"event": "dtmf", "dtmf": {}}', "invalid digit None"),
        ('{"event": "start"}', "without a start object"),
        ('{"event": "start", "start": []}', "without a start object"),
        (
            '{"event": "start", "start": {"mediaFormat": {"encoding": "audio/x-l16"}}}',
            "unsupported encoding 'audio/x-l16'",
        ),
        ('{"event": "hello"}', "unknown event 'hello'"),
        ("{}", "unknown event None"),
    ],
)
def test_malformed_frames_raise(frame: str | bytes, message: str) -> None:
    with pytest.raises(CarrierProtocolError, match=re.escape(message)):
        TwilioCodec().receive(frame)


def test_connect_stream_twiml_is_bidirectional_and_escaped() -> None:
    twiml = connect_stream_twiml(
        "wss://bridge.example.com/twilio?x=1&y=2", {"caller": 'Ann "A" <a&b>', "id": "7"}
    )
    assert twiml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ElementTree.fromstring(twiml)
    assert root.tag == "Response"
    [connect] = list(root)
    assert connect.tag == "Connect"  # <Connect> makes the stream bidirectional
    [stream] = list(connect)
    assert stream.tag == "Stream"
    assert stream.get("url") == "wss://bridge.example.com/twilio?x=1&y=2"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params == {"caller": 'Ann "A" <a&b>', "id": "7"}


def test_connect_stream_twiml_without_parameters() -> None:
    root = ElementTree.fromstring(connect_stream_twiml("wss://h/p", {}))
    stream = root.find("./Connect/Stream")
    assert stream is not None
    assert stream.get("url") == "wss://h/p"
    assert list(stream) == []


def test_signature_matches_twilios_worked_example() -> None:
    # https://www.twilio.com/docs/usage/security#validating-requests
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    # Parameters are sorted by name, whatever order they arrive in.
    reordered = dict(reversed(list(params.items())))
    assert twilio_signature("12345", url, reordered) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_signature_validation() -> None:
    url = "wss://bridge.example.com/twilio"
    good = twilio_signature("token", url)
    assert valid_twilio_signature("token", good, url)
    assert valid_twilio_signature("token", good, url, {})
    assert not valid_twilio_signature("other", good, url)
    assert not valid_twilio_signature("token", good, url + "/x")
    assert not valid_twilio_signature("token", good, url, {"a": "b"})
    assert not valid_twilio_signature("token", good[:-1], url)
    assert not valid_twilio_signature("token", None, url)
    assert not valid_twilio_signature("token", "", url)
