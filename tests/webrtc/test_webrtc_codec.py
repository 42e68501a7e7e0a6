"""The bridge's own encoding, decoding and receive buffer (:mod:`bridge.webrtc.codec`,
:mod:`bridge.webrtc.jitter`), checked against aiortc's codecs as a browser would decode."""

from __future__ import annotations

import asyncio
import fractions
import threading
from dataclasses import dataclass

import av
import numpy as np
import pytest
from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from bridge.audio import G711Law
from bridge.webrtc.codec import (
    G711PacketEncoder,
    InlineDecoding,
    MonoOpusDecoder,
    OpusPacketEncoder,
    packet_encoder,
)
from bridge.webrtc.jitter import AudioJitterBuffer
from bridge.webrtc.outbound import FRAME_BYTES, PacedAudioTrack

OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48_000, channels=2, payloadType=111)


def tone(seconds: float, rate: int = 24_000, hz: float = 440, amplitude: int = 8000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * hz * t) * amplitude).astype("<i2").tobytes()


def frames_of(pcm: bytes, size: int = FRAME_BYTES) -> list[bytes]:
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def test_opus_packets_are_mono_on_the_48k_clock_and_decode_as_sent() -> None:
    encoder = OpusPacketEncoder(24_000)
    packets = [encoder.encode(frame) for frame in frames_of(tone(1.0))]
    assert [p.pts for p in packets[:3]] == [0, 960, 1920]
    # aiortc sends a packet as its encoder packs it: the RTP timestamp is the pts at 48 kHz.
    assert [OpusEncoder().pack(p)[1] for p in packets[:3]] == [0, 960, 1920]
    assert all(bytes(p)[0] & 0x04 == 0 for p in packets)  # TOC byte: mono
    decoder = OpusDecoder()  # stereo, as a browser decodes
    out = [
        f.to_ndarray().reshape(-1)[::2]
        for i, p in enumerate(packets)
        for f in decoder.decode(JitterFrame(bytes(p), i * 960))
    ]
    heard = np.concatenate(out).astype(np.float64)[4_800:]  # past the codec's start-up
    assert dominant_hz(heard, 48_000) == pytest.approx(440, abs=5)
    assert 4000 < np.sqrt(np.mean(heard**2)) < 7000  # 8000 peak: rms ~5660


def test_g711_packets_are_20ms_at_8k() -> None:
    encoder = G711PacketEncoder(G711Law.PCMU, 24_000)
    packets = [encoder.encode(frame) for frame in frames_of(tone(0.5))]
    assert {len(bytes(p)) for p in packets[2:]} == {160}  # the resampler's start-up aside
    pts = [p.pts for p in packets]
    assert pts == sorted(pts)
    assert pts[-1] - pts[-2] == 160
    pcm = G711Law.PCMU.decode(b"".join(bytes(p) for p in packets))
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)[800:]
    assert dominant_hz(samples, 8_000) == pytest.approx(440, abs=10)


def test_the_codecs_the_track_encodes_itself() -> None:
    assert isinstance(packet_encoder("OPUS", 24_000), OpusPacketEncoder)
    assert isinstance(packet_encoder("pcma", 24_000), G711PacketEncoder)
    assert packet_encoder("g722", 24_000) is None  # left to aiortc
    with pytest.raises(ValueError, match="22050"):
        OpusPacketEncoder(22_050)


async def test_the_track_hands_packets_once_told_the_codec() -> None:
    track = PacedAudioTrack()
    assert track.encode_as("opus")
    track.push(tone(0.02))
    packet = await track.recv()
    assert not hasattr(packet, "samples")
    assert packet.pts == 0
    assert len(bytes(packet)) > 3
    assert not PacedAudioTrack().encode_as("g722")
    track.stop()


def test_the_mono_decoder_takes_aiortcs_stereo_opus() -> None:
    encoder, decoder = OpusEncoder(), MonoOpusDecoder()
    frames = []
    for index, pcm in enumerate(frames_of(tone(0.5))):
        av_frame = av.AudioFrame(format="s16", layout="mono", samples=480)
        av_frame.planes[0].update(pcm)
        av_frame.sample_rate, av_frame.pts = 24_000, index * 480
        av_frame.time_base = fractions.Fraction(1, 24_000)
        payloads, timestamp = encoder.encode(av_frame)
        for payload in payloads:
            frames += decoder.decode(JitterFrame(payload, timestamp))
    assert {(f.layout.name, f.sample_rate, f.samples) for f in frames} == {("mono", 48_000, 960)}


@dataclass
class Codec:
    name: str


def test_inline_decoding_feeds_the_track_and_parks_the_thread_until_stop() -> None:
    loop = asyncio.new_event_loop()
    try:
        frames: asyncio.Queue[object] = asyncio.Queue()
        error = threading.Event()
        decoding = InlineDecoding(frames, error)
        encoder = OpusPacketEncoder(24_000)
        for index, pcm in enumerate(frames_of(tone(0.1))):
            decoding.put((Codec("opus"), JitterFrame(bytes(encoder.encode(pcm)), index * 960)))
        assert frames.qsize() == 5
        assert not error.is_set()
        decoding.put((Codec("opus"), JitterFrame(b"\xff" * 3, 0)))  # not Opus
        decoding.put((Codec("opus"), JitterFrame(b"\xff" * 3, 0)))
        assert decoding.failures == 2
        assert error.is_set()
        assert frames.qsize() == 5
        ended: list[None] = []
        thread = threading.Thread(target=lambda: ended.append(decoding.get()))
        thread.start()
        thread.join(0.05)
        assert thread.is_alive()  # parked, as aiortc's decoder thread waits
        decoding.put(None)  # the receiver stops
        thread.join(5)
        assert ended == [None]
    finally:
        loop.close()


@dataclass
class Rtp:
    sequence_number: int
    timestamp: int = 0
    _data: bytes = b"x"


def test_each_packet_passes_at_once_in_order_and_late_ones_are_dropped() -> None:
    buffer = AudioJitterBuffer()
    passed = [buffer.add(Rtp(n))[1] is not None for n in (10, 11, 13, 12, 13, 14)]
    assert passed == [True, True, True, False, False, True]  # 12 came after 13; 13 twice
    assert buffer.late == 2
    assert buffer.add(Rtp(30_000))[1] is not None  # a restarted sequence is followed
    wrapping = AudioJitterBuffer()
    assert all(wrapping.add(Rtp(n))[1] is not None for n in (65_534, 65_535, 0, 1))
    assert wrapping.add(Rtp(65_535))[1] is None  # two behind, across the wrap
    frame = AudioJitterBuffer().add(Rtp(5, timestamp=960, _data=b"opus"))[1]
    assert frame is not None
    assert (frame.data, frame.timestamp) == (b"opus", 960)
