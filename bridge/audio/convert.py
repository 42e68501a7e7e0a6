"""Stream converters between a wire audio format and 16-bit PCM at the rate a consumer wants.

A wire format is an encoding (``pcm16``, ``pcmu``, ``pcma``) at a sample rate. Carriers and
realtime clients each speak one; the pipeline wants PCM at its own rate. Each converter keeps
its resampler state, so use one per stream and direction.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bridge.audio.format import Encoding
from bridge.audio.g711 import G711Law
from bridge.audio.resample import StreamResampler


def bytes_per_second(encoding: Encoding, rate: int) -> int:
    return rate * (2 if encoding == "pcm16" else 1)


def pcm16_floats(pcm: bytes) -> npt.NDArray[np.float32]:
    """16-bit little-endian PCM as float32 samples in [-1, 1), as the ONNX and Whisper models
    take them."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(32768.0)


class WireDecoder:
    """Wire audio in -> 16-bit PCM at ``pcm_rate``."""

    def __init__(self, encoding: Encoding, wire_rate: int, pcm_rate: int) -> None:
        self.encoding = encoding
        self._law = None if encoding == "pcm16" else G711Law(encoding)
        self._resampler = StreamResampler(wire_rate, pcm_rate)

    def decode(self, data: bytes) -> bytes:
        """Raises ValueError on a torn 16-bit sample."""
        pcm = data if self._law is None else self._law.decode(data)
        return self._resampler.process(pcm)


class WireEncoder:
    """16-bit PCM at ``pcm_rate`` in -> wire audio out."""

    def __init__(self, encoding: Encoding, wire_rate: int, pcm_rate: int) -> None:
        self.encoding = encoding
        self._law = None if encoding == "pcm16" else G711Law(encoding)
        self._resampler = StreamResampler(pcm_rate, wire_rate)

    @property
    def silence_byte(self) -> bytes:
        return b"\x00" if self._law is None else self._law.silence

    def encode(self, pcm: bytes) -> bytes:
        resampled = self._resampler.process(pcm)
        return resampled if self._law is None else self._law.encode(resampled)
