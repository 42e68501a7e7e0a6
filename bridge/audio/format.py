"""An audio format on a wire: encoding and sample rate, mono, in 20 ms frames.

One type for every place that carries audio: a carrier's media stream, the realtime API's
input and output formats, an RTP payload. 16-bit PCM is signed little-endian; G.711 is one
byte per sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["pcm16", "pcmu", "pcma"]
SILENCE_BYTE: dict[Encoding, bytes] = {"pcmu": b"\xff", "pcma": b"\xd5", "pcm16": b"\x00"}


@dataclass(frozen=True, slots=True)
class AudioFormat:
    encoding: Encoding
    sample_rate: int
    frame_ms: int = 20

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.encoding == "pcm16" else 1

    @property
    def bytes_per_ms(self) -> float:
        return self.sample_rate * self.bytes_per_sample / 1000

    @property
    def frame_bytes(self) -> int:
        return int(self.bytes_per_ms * self.frame_ms)

    @property
    def silence(self) -> bytes:
        """One frame of digital silence."""
        return SILENCE_BYTE[self.encoding] * self.frame_bytes


PCM16 = AudioFormat("pcm16", 24_000)  # the realtime API's PCM
PCMU = AudioFormat("pcmu", 8_000)
PCMA = AudioFormat("pcma", 8_000)
