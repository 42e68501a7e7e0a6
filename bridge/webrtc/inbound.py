"""The inbound audio path: the peer's decoded frames, as mono PCM16 at the engine's rate.

aiortc decodes Opus to s16 stereo at 48 kHz (960 samples a frame) and G.711 to s16 mono at
8 kHz; the engine wants mono PCM16 at its input rate. :class:`FrameConverter` is the sans-I/O
part (downmix, then one streaming resampler whose state carries across frames, renewed only if
the peer's rate changes). :func:`consume` is the loop that reads the track: it must run for the
whole call, because aiortc queues every decoded frame until someone takes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bridge.audio import StreamResampler


class FrameConverter:
    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._resampler: StreamResampler | None = None

    def convert(self, pcm: bytes, *, channels: int, rate: int) -> bytes:
        """Interleaved s16 ``pcm`` with ``channels`` at ``rate`` → mono PCM16 at ``self.rate``."""
        samples = np.frombuffer(pcm, dtype="<i2")
        if channels > 1:
            usable = len(samples) - len(samples) % channels
            wide = samples[:usable].reshape(-1, channels).astype(np.int32)
            samples = (wide.sum(axis=1) // channels).astype("<i2")
        if rate == self.rate:
            return samples.tobytes()
        if self._resampler is None or self._resampler.src_rate != rate:
            self._resampler = StreamResampler(rate, self.rate)
        return self._resampler.process(samples.tobytes())


async def consume(
    track: MediaStreamTrack, rate: int, deliver: Callable[[bytes], Awaitable[None]]
) -> None:
    """Read ``track`` until it ends, handing each frame to ``deliver`` as mono PCM16 at
    ``rate``. Frames in another sample format are skipped (aiortc's decoders give s16)."""
    converter = FrameConverter(rate)
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        format_name = getattr(getattr(frame, "format", None), "name", None)
        if format_name != "s16":
            continue
        layout = frame.layout  # type: ignore[union-attr]
        pcm = bytes(frame.planes[0])[: frame.samples * 2 * len(layout.channels)]  # type: ignore[union-attr]
        audio = converter.convert(
            pcm,
            channels=len(layout.channels),
            rate=frame.sample_rate,  # type: ignore[union-attr]
        )
        if audio:
            await deliver(audio)
