"""The outbound audio track: exact 20 ms frames on a clock, silence when idle, playout truth.

aiortc pulls frames from a track as fast as ``recv()`` returns them and stamps each with the
``pts`` it carries, so the track must pace itself and hand out exactly 20 ms per frame (longer
frames go out with duplicate RTP timestamps), and keep sending silence while the agent is
quiet (a track that stops makes the browser's jitter buffer stretch). Because the track hands
every frame to aiortc itself, it knows exactly how much of a reply has been sent: that is what
the listener heard, and where a barge-in truncates the reply.

:class:`OutboundQueue` is the sans-I/O core (queue, clear, counts); :class:`PacedAudioTrack`
is the aiortc adapter that owns the clock.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Awaitable, Callable
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bridge.webrtc.codec import PacketEncoder, packet_encoder

# The engine's PCM rate, which Opus encodes as it is (:mod:`bridge.webrtc.codec`).
RATE = 24_000
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000  # 480
FRAME_BYTES = FRAME_SAMPLES * 2  # mono s16
MAX_LATE_S = 0.1  # further behind than this (a stalled loop), the clock restarts from now


class OutboundQueue:
    """Mono PCM16 at :data:`RATE` waiting to be sent, and how much of the current reply was
    sent."""

    def __init__(self) -> None:
        self._queue = bytearray()
        self.reply_sent_bytes = 0  # audio of the current reply handed to the peer
        self.total_frames = 0  # every frame handed out, silence included

    def start_reply(self) -> None:
        """A new reply: positions count from its first sample."""
        self.reply_sent_bytes = 0

    def push(self, pcm: bytes) -> None:
        if len(pcm) % 2:
            raise ValueError("PCM16 audio must be a whole number of samples")
        self._queue += pcm

    def clear(self) -> bool:
        """Drop everything unsent; False when nothing was queued."""
        had = bool(self._queue)
        self._queue.clear()
        return had

    @property
    def queued_ms(self) -> float:
        return len(self._queue) / (RATE * 2 / 1000)

    @property
    def sent_ms(self) -> float:
        return self.reply_sent_bytes / (RATE * 2 / 1000)

    def next_frame(self) -> bytes:
        """The next 20 ms of queued audio, padded with silence (all silence when idle)."""
        chunk = bytes(self._queue[:FRAME_BYTES])
        del self._queue[:FRAME_BYTES]
        self.total_frames += 1
        self.reply_sent_bytes += len(chunk)
        return chunk + bytes(FRAME_BYTES - len(chunk))


class PacedAudioTrack(MediaStreamTrack):
    """An aiortc audio track fed by :meth:`push`, paced on ``clock``.

    Once told the codec the peer negotiated (:meth:`encode_as`), it hands aiortc encoded
    packets (encoded here, on the loop); until then, or for a codec it does not encode, frames.
    ``on_idle`` is called (on the event loop) when the last queued audio has been handed out,
    which is when ``output_audio_buffer.stopped`` is due."""

    kind = "audio"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """``sleep``: for tests with a fake ``clock`` (then audio pushed to an idle track waits
        for the next tick); by default the track naps on the loop's timer, and audio pushed
        while it naps idle goes out at once."""
        super().__init__()
        self.queue = OutboundQueue()
        self.on_idle: Callable[[], None] | None = None
        # Called with (when, PCM) as each frame is handed out: the listener's view of playout.
        self.on_frame: Callable[[float, bytes], None] | None = None
        self._clock = clock
        self._sleep = sleep
        self._nap: asyncio.Future[bool] | None = None  # an idle track's wait for its next tick
        self._start: float | None = None
        self._frames = 0  # frames since the clock (re)started
        self._pts = 0
        self._encoder: PacketEncoder | None = None

    def encode_as(self, codec: str) -> bool:
        """Encode for ``codec`` (``opus``, ``pcmu``, ``pcma``); False if aiortc must."""
        self._encoder = packet_encoder(codec, RATE)
        return self._encoder is not None

    # --- what the door and the listener use ------------------------------------------------

    def push(self, pcm: bytes) -> None:
        """Queue mono PCM16 at :data:`RATE`. An idle track sends it at once rather than at its
        next tick (up to 20 ms on every reply's first word)."""
        self.queue.push(pcm)
        if self._nap is not None and pcm:
            _wake(self._nap, True)

    def clear(self) -> bool:
        return self.queue.clear()

    def start_reply(self) -> None:
        self.queue.start_reply()

    @property
    def sent_ms(self) -> float:
        return self.queue.sent_ms

    @property
    def queued_ms(self) -> float:
        return self.queue.queued_ms

    # --- what aiortc calls -----------------------------------------------------------------

    async def recv(self) -> av.AudioFrame | av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        now = self._clock()
        if self._start is None or now - self._due() > MAX_LATE_S:
            self._start, self._frames = now, 0
        wait = self._due() - now
        if wait > 0 and await self._wait(wait):
            # Woken by audio: the clock restarts now. The packet leaves early for its RTP
            # timestamp, which a receiver's jitter buffer takes as it takes any early packet.
            self._start, self._frames = self._clock(), 0
        self._frames += 1
        had_audio = self.queue.queued_ms > 0
        pcm = self.queue.next_frame()
        if self.on_frame is not None:
            self.on_frame(self._clock(), pcm)
        if had_audio and self.queue.queued_ms == 0 and self.on_idle is not None:
            self.on_idle()
        if self._encoder is not None:
            return self._encoder.encode(pcm)
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(pcm)
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += FRAME_SAMPLES
        return frame

    async def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; True if audio pushed to an idle track cut the sleep short."""
        if self._sleep is not None:
            await self._sleep(seconds)
            return False
        if self.queue.queued_ms > 0:
            await asyncio.sleep(seconds)
            return False
        loop = asyncio.get_running_loop()
        nap: asyncio.Future[bool] = loop.create_future()
        self._nap = nap
        timer = loop.call_later(seconds, _wake, nap, False)
        try:
            return await nap
        finally:
            timer.cancel()
            self._nap = None

    def _due(self) -> float:
        assert self._start is not None
        return self._start + self._frames * FRAME_MS / 1000


def _wake(nap: asyncio.Future[bool], woken: bool) -> None:
    if not nap.done():
        nap.set_result(woken)
