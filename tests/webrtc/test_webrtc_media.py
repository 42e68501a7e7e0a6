"""The media layer on its own: pacing, counts, clear, downmix/resample, the event channel."""

from __future__ import annotations

import asyncio
import fractions
import json
from typing import Any

import av
import numpy as np
import pytest

from bridge.webrtc import compat, outbound
from bridge.webrtc.channel import EventChannel
from bridge.webrtc.inbound import FrameConverter
from bridge.webrtc.inbound import frame_pcm as pcm_of
from bridge.webrtc.outbound import FRAME_BYTES, FRAME_SAMPLES, OutboundQueue, PacedAudioTrack


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_queue_hands_out_exact_frames_and_counts_the_reply() -> None:
    queue = OutboundQueue()
    queue.start_reply()
    queue.push(b"\x01\x00" * (FRAME_SAMPLES + 100))
    assert queue.queued_ms == pytest.approx(20 + 100 / 24)
    assert queue.next_frame() == b"\x01\x00" * FRAME_SAMPLES
    tail = queue.next_frame()
    assert len(tail) == FRAME_BYTES
    assert tail[:200] == b"\x01\x00" * 100
    assert tail[200:] == bytes(FRAME_BYTES - 200)  # padded with silence
    assert queue.sent_ms == pytest.approx(20 + 100 / 24)
    assert queue.next_frame() == bytes(FRAME_BYTES)  # idle: silence, not counted
    assert queue.sent_ms == pytest.approx(20 + 100 / 24)


def test_clear_drops_queued_audio_and_freezes_what_was_sent() -> None:
    queue = OutboundQueue()
    queue.push(bytes(FRAME_BYTES * 10))
    queue.next_frame()
    assert queue.clear()
    assert not queue.clear()  # nothing left: nothing to tell anyone
    assert queue.queued_ms == 0
    assert queue.sent_ms == 20
    with pytest.raises(ValueError, match="whole number"):
        queue.push(b"\x00")


async def test_track_paces_20ms_frames_on_its_clock_and_reports_idle() -> None:
    clock = FakeClock()
    track = PacedAudioTrack(clock=clock, sleep=clock.sleep)
    idle: list[float] = []
    track.on_idle = lambda: idle.append(clock.now)
    track.push(bytes(FRAME_BYTES * 2))
    frames = [await track.recv() for _ in range(4)]
    assert [f.samples for f in frames] == [FRAME_SAMPLES] * 4
    assert [f.pts for f in frames] == [0, 480, 960, 1440]
    assert all(f.sample_rate == 24_000 for f in frames)
    assert clock.slept == [0.02, 0.02, 0.02]  # the first frame is due at once
    assert idle == [100.02]  # once, when the last queued audio went out
    clock.now += 5  # a stalled loop: the clock restarts instead of bursting 250 frames
    await track.recv()
    assert len(clock.slept) == 3  # due at once: no sleep, no burst
    track.stop()


def frame(samples: np.ndarray, layout: str, rate: int, pts: int) -> av.AudioFrame:
    out = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout=layout)
    out.sample_rate, out.pts, out.time_base = rate, pts, fractions.Fraction(1, rate)
    return out


def test_stereo_48k_becomes_mono_at_the_engine_rate() -> None:
    converter = FrameConverter(24_000)
    t = np.arange(960 * 10) / 48_000
    wave = (np.sin(2 * np.pi * 300 * t) * 4000).astype("<i2")
    stereo = np.stack([wave, wave // 2], axis=1).reshape(-1)
    out = b"".join(
        converter.convert(frame(stereo[i * 1920 : (i + 1) * 1920], "stereo", 48_000, i * 960))
        for i in range(10)
    )
    samples = np.frombuffer(out, dtype="<i2")
    assert len(samples) == pytest.approx(10 * 480, abs=24)  # state carried: no drift per frame
    assert 2400 < np.abs(samples[100:]).max() < 3300  # the average of both channels (3000)
    mono8k = frame(np.full(160, 500, dtype="<i2"), "mono", 8_000, 0)
    pcm = FrameConverter(8_000).convert(mono8k)
    assert len(pcm) == 320
    assert pcm_of(mono8k) == pcm  # same rate and layout: the samples as they were


def test_the_numpy_audio_level_is_aiortcs() -> None:
    rng = np.random.default_rng(7)
    for amplitude in (0, 1, 30, 1000, 32767):
        samples = (rng.uniform(-1, 1, 480) * amplitude).astype("<i2")
        level_frame = frame(samples, "mono", 24_000, 0)
        assert compat.audio_level_dbov(level_frame) == compat.original()(level_frame)


class FakeChannel:
    def __init__(self, limit: int = 262_144) -> None:
        self.readyState = "open"
        self.limit = limit
        self.messages: list[dict[str, Any]] = []

    def send(self, data: str | bytes) -> None:
        if len(data) > self.limit:
            raise ValueError("too big")
        self.messages.append(json.loads(data))


def test_an_event_over_the_limit_becomes_an_error_event() -> None:
    fake = FakeChannel()
    channel = EventChannel(fake)
    assert channel.send({"type": "session.created", "event_id": "e1"})
    assert not channel.send({"type": "conversation.item.retrieved", "x": "a" * 300_000})
    assert [m["type"] for m in fake.messages] == ["session.created", "error"]
    assert fake.messages[1]["error"]["code"] == "event_too_large"
    assert "conversation.item.retrieved" in fake.messages[1]["error"]["message"]


def test_a_smaller_peer_limit_and_a_closed_channel_never_raise() -> None:
    fake = FakeChannel(limit=65_536)
    channel = EventChannel(fake)
    assert not channel.send({"type": "x", "pad": "a" * 100_000})
    assert fake.messages[-1]["type"] == "error"
    fake.readyState = "closed"
    assert not channel.send({"type": "y"})


async def test_audio_pushed_to_an_idle_track_goes_out_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbound, "FRAME_MS", 10_000)  # a tick the test could never wait out
    track = PacedAudioTrack()
    sent: list[bytes] = []
    track.on_frame = lambda _at, pcm: sent.append(pcm)
    await track.recv()  # the clock starts: the next tick is 10 s away
    napping = asyncio.create_task(track.recv())
    await asyncio.sleep(0)  # the task runs up to its nap
    assert track._nap is not None
    track.push(b"\x07\x00" * FRAME_SAMPLES)
    async with asyncio.timeout(5):
        frame = await napping
    assert pcm_of(frame) == b"\x07\x00" * FRAME_SAMPLES
    assert sent == [bytes(FRAME_BYTES), b"\x07\x00" * FRAME_SAMPLES]
    busy = asyncio.create_task(track.recv())  # the clock restarted at the push: 10 s again
    await asyncio.sleep(0)
    assert not busy.done()
    busy.cancel()
    track.stop()
