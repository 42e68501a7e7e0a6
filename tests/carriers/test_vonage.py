"""Vonage WebSocket codec against the frames Vonage sends and accepts."""

from __future__ import annotations

import json

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
from bridge.carriers.vonage import VonageCarrierSide, VonageCodec, media_format


def started(rate: int = 16000, **headers: object) -> tuple[VonageCodec, VonageCarrierSide]:
    carrier = VonageCarrierSide(sample_rate=rate, headers=headers or None)
    codec = VonageCodec()
    assert isinstance(codec.receive(carrier.connected())[0], CallStarted)
    return codec, carrier


@pytest.mark.parametrize("rate", [8000, 16000, 24000])
def test_connected_reports_format_and_header_ids(rate: int) -> None:
    carrier = VonageCarrierSide(
        sample_rate=rate,
        headers={"uuid": "abc-123", "from": "447700900000", "to": "447700900001", "n": 4},
    )
    [event] = VonageCodec().receive(carrier.connected())
    assert event == CallStarted(
        call_id="abc-123",
        media=AudioFormat("pcm16", rate),
        from_number="447700900000",
        to_number="447700900001",
        parameters={"uuid": "abc-123", "from": "447700900000", "to": "447700900001", "n": "4"},
    )
    assert event.media.frame_bytes == rate // 50 * 2


def test_content_type_8k_vs_16k() -> None:
    assert media_format("audio/l16;rate=8000").frame_bytes == 320
    assert media_format("audio/l16;rate=16000").frame_bytes == 640
    assert media_format("Audio/L16; rate=16000") == AudioFormat("pcm16", 16000)
    with pytest.raises(CarrierProtocolError, match="unsupported content-type"):
        media_format("audio/x-mulaw;rate=8000")
    with pytest.raises(CarrierProtocolError, match="sample rate 11025"):
        media_format("audio/l16;rate=11025")


def test_call_id_falls_back_to_conversation_uuid() -> None:
    carrier = VonageCarrierSide(headers={"conversation_uuid": "CON-1"})
    [event] = VonageCodec().receive(carrier.connected())
    assert isinstance(event, CallStarted)
    assert (event.call_id, event.from_number) == ("CON-1", "")


def test_media_round_trip() -> None:
    codec, carrier = started(16000)
    audio = bytes(range(256)) * 2 + bytes(128)  # 640 bytes
    assert codec.receive(carrier.media(audio)) == [MediaReceived(audio)]
    [out] = codec.media(audio)
    assert carrier.parse(out) == ("media", audio)


def test_outbound_media_is_cut_into_whole_20ms_messages() -> None:
    codec, carrier = started(8000)
    frames = codec.media(b"\x01\x00" * 400)  # 50 ms
    assert [len(f) for f in frames] == [320, 320, 320]
    assert frames[-1] == b"\x01\x00" * 80 + bytes(160)  # padded with silence
    assert all(carrier.parse(f)[0] == "media" for f in frames)
    assert codec.media(b"") == []


def test_dtmf() -> None:
    codec, carrier = started()
    assert codec.receive(carrier.dtmf("5", 260)) == [DtmfReceived("5", 260)]
    assert codec.receive('{"event":"websocket:dtmf","digit":"#"}') == [DtmfReceived("#")]
    nested = '{"event":"websocket:dtmf","dtmf":{"digit":"7","duration":100}}'
    assert codec.receive(nested) == [DtmfReceived("7", 100)]


def test_mark_travels_in_notify_and_comes_back_as_mark_played() -> None:
    codec, carrier = started()
    [out] = codec.mark("m1")
    assert json.loads(out) == {"action": "notify", "payload": {"mark": "m1"}}
    kind, name = carrier.parse(out)
    assert (kind, name) == ("mark", "m1")
    assert codec.receive(carrier.mark(name)) == [MarkPlayed("m1")]
    assert codec.receive(carrier.notify({"other": 1})) == [Ignored("notify without a mark")]


def test_clear_is_acknowledged() -> None:
    codec, carrier = started()
    [out] = codec.clear()
    assert carrier.parse(out) == ("clear", None)
    assert codec.receive(carrier.cleared()) == [AudioCleared()]


def test_no_inband_hangup_and_no_stop_frame() -> None:
    codec, carrier = started()
    assert codec.hangup() == []
    assert carrier.stop() == []


def test_unknown_events_are_ignored() -> None:
    codec, _ = started()
    assert codec.receive('{"event":"websocket:something-new"}') == [
        Ignored("websocket:something-new")
    ]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("not json", "invalid JSON"),
        ("[1]", "JSON object"),
        ("{}", "without an event"),
        ('{"event":"websocket:dtmf","digit":"55"}', "invalid digit"),
        ('{"event":"websocket:dtmf","digit":"5","duration":"long"}', "not a whole number"),
        (b"\x00\x00\x00", "not whole samples"),
        ('{"event":"websocket:connected","content-type":"audio/l16;rate=16000"}', "second"),
    ],
)
def test_malformed_frames(frame: str | bytes, message: str) -> None:
    codec, _ = started()
    with pytest.raises(CarrierProtocolError, match=message):
        codec.receive(frame)


def test_audio_before_connected_is_an_error() -> None:
    with pytest.raises(CarrierProtocolError, match="before websocket:connected"):
        VonageCodec().receive(bytes(640))
    with pytest.raises(CarrierProtocolError, match="no call has started"):
        VonageCodec().media(bytes(640))


def test_carrier_side_rejects_what_vonage_would() -> None:
    carrier = VonageCarrierSide(sample_rate=16000)
    with pytest.raises(CarrierProtocolError, match="640-byte"):
        carrier.parse(bytes(320))
    with pytest.raises(CarrierProtocolError, match="'play'"):
        carrier.parse('{"action":"play"}')
    with pytest.raises(CarrierProtocolError, match="payload object"):
        carrier.parse('{"action":"notify"}')
