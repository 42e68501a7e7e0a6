"""jambonz listen / mod_audio_fork codec against the frames jambonz sends and accepts."""

from __future__ import annotations

import json
import struct

import pytest

from bridge.audio.format import AudioFormat
from bridge.carriers.base import (
    CallStarted,
    CarrierProtocolError,
    DtmfReceived,
    Ignored,
    MarkPlayed,
    MediaReceived,
)
from bridge.carriers.jambonz import (
    SUBPROTOCOL_DRACHTIO,
    SUBPROTOCOL_JAMBONZ,
    SUBPROTOCOLS,
    JambonzCarrierSide,
    JambonzCodec,
)


def started(rate: int = 8000) -> tuple[JambonzCodec, JambonzCarrierSide]:
    carrier = JambonzCarrierSide(sample_rate=rate)
    codec = JambonzCodec()
    assert isinstance(codec.receive(carrier.start())[0], CallStarted)
    return codec, carrier


def test_subprotocols() -> None:
    assert SUBPROTOCOL_JAMBONZ == "audio.jambonz.org"
    assert SUBPROTOCOL_DRACHTIO == "audio.drachtio.org"
    assert SUBPROTOCOLS == (SUBPROTOCOL_JAMBONZ, SUBPROTOCOL_DRACHTIO)


@pytest.mark.parametrize("rate", [8000, 16000, 24000])
def test_metadata_frame_starts_the_call(rate: int) -> None:
    carrier = JambonzCarrierSide(
        call_sid="cs-1",
        from_number="+15551230001",
        to_number="+15551230002",
        sample_rate=rate,
        metadata={"tenant": "acme", "extra": {"a": 1}},
    )
    [event] = JambonzCodec().receive(carrier.start())
    assert isinstance(event, CallStarted)
    assert event.call_id == "cs-1"
    assert event.media == AudioFormat("pcm16", rate)
    assert (event.from_number, event.to_number) == ("+15551230001", "+15551230002")
    assert event.parameters["tenant"] == "acme"
    assert event.parameters["extra"] == '{"a":1}'
    assert event.parameters["direction"] == "inbound"
    assert "sampleRate" not in event.parameters


def test_bare_mod_audio_fork_metadata() -> None:
    codec = JambonzCodec(default_sample_rate=16000)
    [event] = codec.receive('{"uuid":"fs-uuid","from":"100","to":"200"}')
    assert isinstance(event, CallStarted)
    assert (event.call_id, event.media.sample_rate) == ("fs-uuid", 16000)
    [event] = JambonzCodec().receive('{"callId":"x@y","sampleRate":"16k"}')
    assert isinstance(event, CallStarted)
    assert (event.call_id, event.media.sample_rate) == ("x@y", 16000)


def test_media_round_trip() -> None:
    codec, carrier = started(16000)
    audio = bytes(range(1, 255)) * 2 + b"\x01\x02" * 66  # 640 bytes, no 0xFFFF samples
    assert codec.receive(carrier.media(audio)) == [MediaReceived(audio)]
    [out] = codec.media(audio)
    assert isinstance(out, bytes)
    assert carrier.parse(out) == ("media", audio)
    assert codec.media(b"") == []


def test_outbound_audio_never_carries_the_module_marker_sample() -> None:
    codec, _ = started()
    audio = struct.pack("<5h", 100, -1, 0, -1, -2)
    [out] = codec.media(audio)
    assert isinstance(out, bytes)
    assert struct.unpack("<5h", out) == (100, 0, 0, 0, -2)
    # 0xFF bytes that straddle two samples are real audio and stay.
    straddle = struct.pack("<2h", -256, 255)  # bytes 00 ff ff 00
    assert codec.media(straddle) == [straddle]


def test_dtmf_duration_is_in_8khz_ticks() -> None:
    codec, carrier = started()
    assert json.loads(carrier.dtmf("2", 200))["duration"] == "1600"
    assert codec.receive(carrier.dtmf("2", 200)) == [DtmfReceived("2", 200)]
    assert codec.receive('{"event":"dtmf","dtmf":"*"}') == [DtmfReceived("*")]


def test_marks_echo_on_playout_and_on_clear() -> None:
    codec, carrier = started()
    [out] = codec.mark("m7")
    assert json.loads(out) == {"type": "mark", "data": {"name": "m7"}}
    assert carrier.parse(out) == ("mark", "m7")
    assert codec.receive(carrier.mark("m7")) == [MarkPlayed("m7")]
    assert codec.receive(carrier.mark("m8", cleared=True)) == [MarkPlayed("m8")]
    assert codec.playout_acks == "mark"


def test_clear_is_kill_audio_and_hangup_is_disconnect() -> None:
    codec, carrier = started()
    [clear] = codec.clear()
    assert json.loads(clear) == {"type": "killAudio"}
    assert carrier.parse(clear) == ("clear", None)
    [hangup] = codec.hangup()
    assert json.loads(hangup) == {"type": "disconnect"}
    assert carrier.parse(hangup) == ("hangup", None)
    assert carrier.stop() == []  # jambonz just closes the socket


def test_other_text_frames_are_ignored() -> None:
    codec, _ = started()
    assert codec.receive('{"type":"playDone"}') == [Ignored("playDone")]
    assert codec.receive('{"type":"something"}') == [Ignored("something")]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("not json", "invalid JSON"),
        ('{"type":"mark","data":{}}', "mark event without a name"),
        ('{"event":"dtmf","dtmf":"22"}', "invalid digit"),
        ('{"event":"dtmf","dtmf":"2","duration":"x"}', "not a whole number"),
        (b"\x01\x02\x03", "not whole samples"),
    ],
)
def test_malformed_frames(frame: str | bytes, message: str) -> None:
    codec, _ = started()
    with pytest.raises(CarrierProtocolError, match=message):
        codec.receive(frame)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"\x00\x00", "before the metadata"),
        ('{"sampleRate":11025}', "unsupported sampleRate 11025"),
        ('{"sampleRate":"fast"}', "not a whole number"),
        ('{"mixType":"stereo"}', "stereo"),
        ('"hello"', "JSON object"),
    ],
)
def test_bad_openings(frame: str | bytes, message: str) -> None:
    with pytest.raises(CarrierProtocolError, match=message):
        JambonzCodec().receive(frame)


def test_carrier_side_rejects_what_jambonz_would() -> None:
    carrier = JambonzCarrierSide()
    play = {"type": "playAudio", "data": {"audioContent": "", "audioContentType": "raw"}}
    with pytest.raises(CarrierProtocolError, match="playAudio"):
        carrier.parse(json.dumps(play))
    with pytest.raises(CarrierProtocolError, match="without a string name"):
        carrier.parse('{"type":"mark","data":{"name":5}}')
    with pytest.raises(CarrierProtocolError, match="'wat'"):
        carrier.parse('{"type":"wat"}')
    with pytest.raises(CarrierProtocolError, match="whole samples"):
        carrier.parse(b"\x00")
