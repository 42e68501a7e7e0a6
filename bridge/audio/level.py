"""How loud a stretch of audio is: speech or line noise, for recording and simulated callers."""

from __future__ import annotations

import numpy as np


def is_speech(pcm: bytes, threshold: float = 300.0) -> bool:
    """Louder than line noise: RMS of 16-bit samples above ``threshold``."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return bool(samples.size) and float(np.sqrt(np.mean(samples**2))) > threshold
