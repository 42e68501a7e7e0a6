"""Audio primitives: the wire format type, G.711 companding, streaming resampling and
fixed-size framing."""

from bridge.audio.convert import WireDecoder, WireEncoder, bytes_per_second, pcm16_floats
from bridge.audio.format import PCM16, PCMA, PCMU, AudioFormat, Encoding
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
    "PCM16",
    "PCMA",
    "PCMU",
    "AudioFormat",
    "Encoding",
    "Framer",
    "G711Law",
    "StreamResampler",
    "WireDecoder",
    "WireEncoder",
    "alaw_to_pcm16",
    "bytes_per_second",
    "frame_bytes",
    "pcm16_floats",
    "pcm16_rms",
    "pcm16_to_alaw",
    "pcm16_to_ulaw",
    "ulaw_to_pcm16",
]
