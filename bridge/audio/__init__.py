"""Audio primitives: G.711 companding, streaming resampling and fixed-size framing."""

from bridge.audio.convert import Encoding, WireDecoder, WireEncoder, bytes_per_second
from bridge.audio.framer import Framer, frame_bytes
from bridge.audio.g711 import (
    G711Law,
    alaw_to_pcm16,
    pcm16_rms,
    pcm16_to_alaw,
    pcm16_to_ulaw,
    ulaw_to_pcm16,
)
from bridge.audio.resample import StreamResampler

__all__ = [
    "Encoding",
    "Framer",
    "G711Law",
    "StreamResampler",
    "WireDecoder",
    "WireEncoder",
    "alaw_to_pcm16",
    "bytes_per_second",
    "frame_bytes",
    "pcm16_rms",
    "pcm16_to_alaw",
    "pcm16_to_ulaw",
    "ulaw_to_pcm16",
]
