"""The softphone's audio on aiortc: a paced outbound track, and inbound frames as mono PCM.

:class:`PacedTrack` is what aiortc pulls the caller's audio from. ``recv`` returns exactly
20 ms each time, on a clock of its own (aiortc calls it as fast as it returns, and frames
longer than 20 ms go out with duplicate timestamps), silence when nothing is queued. It counts
the bytes it has handed out, so the transport knows what the caller can have heard.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from bridge.audio import StreamResampler

FRAME_MS = 20


class PacedTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, sample_rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.samples = sample_rate * FRAME_MS // 1000
        self.frame_bytes = self.samples * 2
        self._silence = bytes(self.frame_bytes)
        self._queue: deque[bytes] = deque()
        self._partial = b""
        self._clock = clock
        self._start: float | None = None
        self._pts = 0
        self.queued_bytes = 0  # every byte ever pushed
        self.handed_bytes = 0  # pushed bytes handed to aiortc, or dropped by a clear
        self.on_progress: Callable[[int], None] | None = None

    def push(self, pcm: bytes) -> None:
        """Queue mono PCM16 at the track's rate (any length; whole frames go out)."""
        self.queued_bytes += len(pcm)
        data = self._partial + pcm
        whole = len(data) - len(data) % self.frame_bytes
        for at in range(0, whole, self.frame_bytes):
            self._queue.append(data[at : at + self.frame_bytes])
        self._partial = data[whole:]

    def clear(self) -> None:
        """Drop everything queued, at once: the caller hears silence from the next frame."""
        self._queue.clear()
        self._partial = b""
        self.handed_bytes = self.queued_bytes
        if self.on_progress is not None:
            self.on_progress(self.handed_bytes)

    def next_frame(self) -> bytes:
        """The next 20 ms to hand out (sans I/O: ``recv`` adds the pacing)."""
        if self._queue:
            frame = self._queue.popleft()
            real = len(frame)
        elif self._partial:  # a short tail with nothing after it: padded with silence
            real = len(self._partial)
            frame, self._partial = self._partial.ljust(self.frame_bytes, b"\0"), b""
        else:
            return self._silence
        self.handed_bytes += real
        if self.on_progress is not None:
            self.on_progress(self.handed_bytes)
        return frame

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = self._clock()
        if self._start is None:
            self._start = now
        due = self._start + self._pts / self.sample_rate
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > 0.2:  # the loop stalled: start afresh rather than burst to catch up
            self._start = now - self._pts / self.sample_rate
        pcm = self.next_frame()
        frame = AudioFrame(format="s16", layout="mono", samples=self.samples)
        frame.planes[0].update(pcm)
        frame.sample_rate = self.sample_rate
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.sample_rate)
        self._pts += self.samples
        return frame


class InboundAudio:
    """The caller's frames (s16, any layout and rate) as mono PCM16 at ``rate``."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._resampler: StreamResampler | None = None
        self._from = 0

    def convert(self, frame: AudioFrame) -> bytes:
        samples = frame.to_ndarray()
        channels = len(frame.layout.channels)
        if frame.format.is_planar:
            mono = samples.astype(np.int32).mean(axis=0)
        else:
            mono = samples.reshape(-1, channels).astype(np.int32).mean(axis=1)
        pcm: bytes = mono.astype(np.int16).tobytes()
        if frame.sample_rate == self.rate:
            return pcm
        if self._resampler is None or self._from != frame.sample_rate:
            self._resampler = StreamResampler(frame.sample_rate, self.rate)
            self._from = frame.sample_rate
        return bytes(self._resampler.process(pcm))
