"""Exotel Voicebot applet: the codec against what Exotel sends and accepts."""

from __future__ import annotations

import base64
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
from bridge.carriers.exotel import (
    CHUNK_MULTIPLE,
    MIN_CHUNK_BYTES,
    ExotelCarrierSide,
    ExotelCodec,
    chunk_bytes,
)

PCM_100MS = b"\x01\x02" * 800  # 100 ms of 8 kHz 16-bit PCM, as Exotel sends it


def frame_20ms(n: int, rate: int = 8000) -> bytes:
    """A distinct 20 ms PCM frame, so reassembled audio can be checked byte for byte."""
    return bytes([n % 256, 0]) * (rate // 50)


def media_frame(side: ExotelCarrierSide, size: int) -> str:
    payload = base64.b64encode(bytes(size)).decode()
    return json.dumps(
        {"event": "media", "stream_sid": side.stream_sid, "media": {"payload": payload}}
    )


def started(side: ExotelCarrierSide) -> tuple[ExotelCodec, CallStarted]:
    codec = ExotelCodec()
    assert codec.receive(side.connected()) == [Ignored("connected")]
    [event] = codec.receive(side.start())
    assert isinstance(event, CallStarted)
    return codec, event


def test_start_reports_ids_numbers_parameters_and_pcm16() -> None:
    side = ExotelCarrierSide(parameters={"lang": "hi"})
    codec, event = started(side)
    assert event == CallStarted(
        call_id=side.call_sid,
        media=AudioFormat("pcm16", 8000),
        stream_id=side.stream_sid,
        from_number="+919876543210",
        to_number="+918047491899",
        parameters={"lang": "hi"},
    )
    assert (codec.call_sid, codec.stream_sid) == (side.call_sid, side.stream_sid)


def test_carrier_frames_look_like_exotel() -> None:
    side = ExotelCarrierSide()
    assert json.loads(side.connected()) == {"event": "connected"}
    start = json.loads(side.start())
    assert (start["sequence_number"], start["stream_sid"]) == ("1", side.stream_sid)
    assert start["start"]["media_format"] == {
        "encoding": "audio/x-raw",
        "sample_rate": "8000",
        "bit_rate": "16",
    }
    first, second = json.loads(side.media(PCM_100MS)), json.loads(side.media(PCM_100MS))
    assert (first["media"]["chunk"], first["media"]["timestamp"]) == ("1", "0")
    assert second["media"]["timestamp"] == "100"
    assert json.loads(side.dtmf("5"))["dtmf"] == {"digit": "5", "duration": "100"}
    assert json.loads(side.stop())["stop"] == {
        "call_sid": side.call_sid,
        "account_sid": side.account_sid,
        "reason": "callended",
    }


def test_media_dtmf_mark_and_stop_become_events() -> None:
    side = ExotelCarrierSide()
    codec, _ = started(side)
    assert codec.receive(side.media(PCM_100MS)) == [MediaReceived(PCM_100MS)]
    assert codec.receive(side.dtmf("9", duration_ms=250)) == [DtmfReceived("9", 250)]
    assert codec.receive(side.mark("m1")) == [MarkPlayed("m1")]
    assert codec.receive(side.stop("stopped")) == [CallEnded("stopped")]
    assert codec.receive(side.stop()) == [CallEnded("callended")]


def test_sixteen_khz_streams() -> None:
    side = ExotelCarrierSide(sample_rate=16000)
    codec, event = started(side)
    assert event.media == AudioFormat("pcm16", 16000)
    frames = [f for n in range(5) for f in codec.media(frame_20ms(n, 16000))]
    [(kind, audio)] = [side.parse(f) for f in frames]
    assert (kind, len(audio)) == ("media", 3200)  # 3.2 KB is 100 ms at 16 kHz
    assert codec.chunk_ms == 100


def test_outbound_audio_goes_out_in_full_chunks() -> None:
    side = ExotelCarrierSide()
    codec, _ = started(side)
    assert codec.chunk_ms == 200  # 3.2 KB at 8 kHz
    frames = [frame_20ms(n) for n in range(23)]
    sent = [codec.media(frame) for frame in frames]
    assert [len(out) for out in sent] == [0] * 9 + [1] + [0] * 9 + [1] + [0] * 3
    chunks = [side.parse(f) for out in sent for f in out]
    assert [kind for kind, _ in chunks] == ["media", "media"]
    for _, audio in chunks:
        assert len(audio) % CHUNK_MULTIPLE == 0
        assert len(audio) >= MIN_CHUNK_BYTES
    assert b"".join(audio for _, audio in chunks) == b"".join(frames[:20])


def test_a_mark_flushes_the_remainder_padded_with_silence() -> None:
    side = ExotelCarrierSide()
    codec, _ = started(side)
    frames = [frame_20ms(n) for n in range(13)]
    sent = [f for frame in frames for f in codec.media(frame)]
    sent += codec.mark("m1")
    parsed = [side.parse(f) for f in sent]
    assert [kind for kind, _ in parsed] == ["media", "media", "mark"]
    tail = parsed[1][1]
    assert len(tail) == MIN_CHUNK_BYTES
    assert tail == b"".join(frames[10:]) + bytes(MIN_CHUNK_BYTES - 3 * 320)
    assert parsed[2] == ("mark", "m1")
    mark_only = {"event": "mark", "stream_sid": side.stream_sid, "mark": {"name": "m2"}}
    assert [json.loads(f) for f in codec.mark("m2")] == [mark_only]
    assert codec.receive(side.mark("m1")) == [MarkPlayed("m1")]


def test_a_clear_drops_what_was_buffered() -> None:
    side = ExotelCarrierSide()
    codec, _ = started(side)
    assert codec.media(frame_20ms(1)) == []
    assert [side.parse(f) for f in codec.clear()] == [("clear", None)]
    assert codec.mark("m1") == codec.mark("m1")  # nothing left to flush
    sent = [f for n in range(10) for f in codec.media(frame_20ms(n))]
    assert [side.parse(f)[1] for f in sent] == [b"".join(frame_20ms(n) for n in range(10))]
    assert codec.hangup() == []


def test_chunk_sizes_per_rate() -> None:
    assert chunk_bytes(AudioFormat("pcm16", 8000)) == 3200  # 200 ms
    assert chunk_bytes(AudioFormat("pcm16", 16000)) == 3200  # 100 ms
    assert chunk_bytes(AudioFormat("pcm16", 24000)) == 4800  # 100 ms
    assert chunk_bytes(AudioFormat("pcm16", 8000), min_bytes=1000) == 1600  # 100 ms, 5 x 320
    codec = ExotelCodec(min_chunk_bytes=1600)
    assert [len(codec.media(frame_20ms(n))) for n in range(5)] == [0, 0, 0, 0, 1]


def test_carrier_side_rejects_badly_sized_chunks() -> None:
    side = ExotelCarrierSide()
    codec, _ = started(side)
    assert codec.media(frame_20ms(0)) == []
    assert side.parse(codec.flush()[0]) == ("media", frame_20ms(0) + bytes(3200 - 320))
    assert codec.flush() == []
    with pytest.raises(CarrierProtocolError, match="multiple of 320"):
        side.parse(media_frame(side, 3202))
    with pytest.raises(CarrierProtocolError, match=re.escape("3.2 KB")):
        side.parse(media_frame(side, 320))
    with pytest.raises(CarrierProtocolError, match="100 KB"):
        side.parse(media_frame(side, 320 * 320))
    with pytest.raises(CarrierProtocolError, match="stream"):
        side.parse(json.dumps({"event": "clear", "stream_sid": "other"}))
    with pytest.raises(CarrierProtocolError, match=re.escape("mark.name")):
        side.parse(json.dumps({"event": "mark", "stream_sid": side.stream_sid, "mark": {}}))
    with pytest.raises(CarrierProtocolError, match="'playAudio'"):
        side.parse(json.dumps({"event": "playAudio"}))
    with pytest.raises(ValueError, match="does not stream"):
        ExotelCarrierSide(sample_rate=44100)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("{not json", "invalid JSON"),
        (b'{"event": "media"}', "binary"),
        ('{"event": "media", "media": {"payload": "!!"}}', "base64"),
        ('{"event": "media", "media": {"payload": "AAAA"}}', "odd number"),
        ('{"event": "dtmf", "dtmf": {"duration": "100"}}', "dtmf.digit"),
        ('{"event": "mark"}', "without a mark object"),
        ('{"event": "start", "start": {"stream_sid": "s"}}', "call_sid"),
        ('{"event": "start", "start": {"call_sid": "c"}}', "media_format"),
        (
            '{"event": "start", "start": {"call_sid": "c", '
            '"media_format": {"encoding": "audio/x-mulaw", "sample_rate": "8000"}}}',
            "unsupported Exotel media format",
        ),
        (
            '{"event": "start", "start": {"call_sid": "c", '
            '"media_format": {"encoding": "audio/x-raw", "sample_rate": "11025"}}}',
            "sample rate",
        ),
        ('{"event": "playedStream"}', "unknown Exotel event 'playedStream'"),
    ],
)
def test_malformed_frames_raise(frame: str | bytes, message: str) -> None:
    with pytest.raises(CarrierProtocolError, match=re.escape(message)):
        ExotelCodec().receive(frame)
