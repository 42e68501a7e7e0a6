"""How loud a stretch of audio is: speech or line noise, for recording and simulated callers."""

from __future__ import annotations

import numpy as np

SPEECH_RMS = 300.0  # louder than line noise


def is_speech(pcm: bytes, threshold: float = SPEECH_RMS) -> bool:
    """Louder than line noise: RMS of 16-bit samples above ``threshold``."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return bool(samples.size) and float(np.sqrt(np.mean(samples**2))) > threshold


ONSET_THRESHOLD = 200  # |sample| that starts a voice (-44 dBFS): TTS lead-in stays under it
ONSET_KEEP_MS = 10  # kept before the onset, so the first syllable's attack is whole


def trim_lead_in(pcm: bytes, rate: int, *, keep_ms: int = ONSET_KEEP_MS) -> bytes:
    """``pcm`` from ``keep_ms`` before its first sample louder than :data:`ONSET_THRESHOLD`;
    unchanged when nothing in it is that loud."""
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > ONSET_THRESHOLD)
    if not loud.size:
        return pcm
    start = max(0, int(loud[0]) - rate * keep_ms // 1000)
    return pcm[start * 2 :]


AUDIBLE_WINDOW_MS = 5  # how finely a turn gap is dated inside a 20 ms frame


def audible_span(
    pcm: bytes, rate: int, *, window_ms: int = AUDIBLE_WINDOW_MS
) -> tuple[float, float] | None:
    """Seconds from the start of ``pcm`` to the start of its first and the end of its last
    ``window_ms`` window that :func:`is_speech` (None: none is). Dates the ends of speech finer
    than the frame it came in, so a codec's few ms of delay do not move them a whole frame."""
    size = max(1, rate * window_ms // 1000)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    count = len(samples) // size
    if not count:
        return None
    windows = samples[: count * size].reshape(count, size)
    loud = np.flatnonzero(np.sqrt(np.mean(windows**2, axis=1)) > SPEECH_RMS)
    if not loud.size:
        return None
    return int(loud[0]) * size / rate, (int(loud[-1]) + 1) * size / rate
