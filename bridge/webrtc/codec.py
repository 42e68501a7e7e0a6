"""Audio encoding and decoding on the event loop, instead of on aiortc's threads.

aiortc encodes each outbound frame on the default executor and decodes each inbound packet on
a thread of its own, and each hand-off wakes a thread and then the loop again: four thread
switches per 20 ms frame of each call, which cost more CPU than the codec itself (the kernel's
scheduler was a quarter of a WebRTC call's CPU). It also encodes Opus in stereo at 96 kbit/s
from audio resampled to 48 kHz, for a voice that is mono and 24 kHz.

So the bridge does both on the loop, where the frame already is:

- :class:`OpusPacketEncoder` encodes the track's mono 24 kHz PCM straight into mono Opus
  (libopus takes 24 kHz input; RTP timestamps stay on Opus's 48 kHz clock, RFC 7587) at
  32 kbit/s in Opus's CELT-only low-delay mode at complexity 5: ~0.08 ms a frame of speech
  where the default SILK/hybrid voice mode at complexity 10 took ~0.3 ms (and ~0.25 ms a frame
  of silence, which CELT sends in 3 bytes), with 2.5 ms of look-ahead instead of 6.5 ms. Whisper
  transcribes its output word for word as it does the PCM. Any Opus decoder plays every mode.
  :class:`G711PacketEncoder` when the peer chose PCMU/PCMA.
  The track hands aiortc finished packets, which it sends as they are.
- :class:`InlineDecoding` takes the place of the receiver's decoder queue: each packet is
  decoded as it is taken from the jitter buffer (mono Opus, ~0.05 ms) and the frame goes
  straight to the track. aiortc's decoder thread still exists, parked until the receiver stops.
"""

from __future__ import annotations

import fractions
import threading
from typing import Any, Protocol

import av
from aiortc.codecs import get_decoder
from aiortc.codecs.base import Decoder
from aiortc.jitterbuffer import JitterFrame
from av.frame import Frame

from bridge.audio import G711Law, WireEncoder
from bridge.logging import get_logger

OPUS_CLOCK = 48_000  # the RTP clock of Opus whatever the audio's rate (RFC 7587)
OPUS_BITRATE = 32_000  # mono speech: what browsers send
OPUS_OPTIONS = {"application": "lowdelay", "compression_level": "5"}  # see the module's doc
FRAME_MS = 20

log = get_logger("bridge.webrtc")


class PacketEncoder(Protocol):
    """Mono PCM16 frames of :data:`FRAME_MS` -> RTP-ready packets with their timestamps."""

    def encode(self, pcm: bytes) -> av.Packet[Any]: ...


def _packet(payload: bytes, pts: int, time_base: fractions.Fraction) -> av.Packet[Any]:
    packet = av.Packet(payload)
    packet.pts = pts
    packet.time_base = time_base
    return packet


OPUS_TIME_BASE = fractions.Fraction(1, OPUS_CLOCK)
G711_TIME_BASE = fractions.Fraction(1, 8_000)


class OpusPacketEncoder:
    """Mono Opus from mono PCM16 at ``rate`` (8, 12, 16, 24 or 48 kHz: libopus's own rates)."""

    def __init__(self, rate: int, bitrate: int = OPUS_BITRATE) -> None:
        if OPUS_CLOCK % rate:
            raise ValueError(f"Opus cannot take {rate} Hz input")
        self.rate = rate
        self._samples = rate * FRAME_MS // 1000
        self._codec: Any = av.CodecContext.create("libopus", "w")
        self._codec.bit_rate = bitrate
        self._codec.format = "s16"
        self._codec.layout = "mono"
        self._codec.sample_rate = rate
        self._time_base = fractions.Fraction(1, rate)
        self._codec.time_base = self._time_base
        self._codec.options = dict(OPUS_OPTIONS)
        self._frames = 0

    def encode(self, pcm: bytes) -> av.Packet[Any]:
        frame = av.AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(pcm)
        frame.sample_rate = self.rate
        frame.pts = self._frames * self._samples
        frame.time_base = self._time_base
        # libopus gives one packet for each 20 ms frame, from the first on.
        payload = b"".join(bytes(p) for p in self._codec.encode(frame))
        pts = self._frames * OPUS_CLOCK * FRAME_MS // 1000
        self._frames += 1
        return _packet(payload, pts, OPUS_TIME_BASE)


class G711PacketEncoder:
    """PCMU or PCMA at 8 kHz from mono PCM16 at ``rate`` (the bridge's own wire encoder)."""

    def __init__(self, law: G711Law, rate: int) -> None:
        self._wire = WireEncoder(law.value, 8_000, rate)
        self._sent = 0  # samples at 8 kHz: one byte each

    def encode(self, pcm: bytes) -> av.Packet[Any]:
        payload = self._wire.encode(pcm)
        pts, self._sent = self._sent, self._sent + len(payload)
        return _packet(payload, pts, G711_TIME_BASE)


def packet_encoder(codec: str, rate: int) -> PacketEncoder | None:
    """The encoder for a negotiated codec name (``opus``, ``pcmu``, ``pcma``), or None for a
    codec the bridge leaves to aiortc (G.722)."""
    name = codec.lower()
    if name == "opus":
        return OpusPacketEncoder(rate)
    if name in ("pcmu", "pcma"):
        return G711PacketEncoder(G711Law.from_name(name), rate)
    return None


class MonoOpusDecoder(Decoder):
    """aiortc's Opus decoder gives stereo; speech recognition wants mono (half the work)."""

    def __init__(self) -> None:
        self.codec: Any = av.CodecContext.create("libopus", "r")
        self.codec.format = "s16"
        self.codec.layout = "mono"
        self.codec.sample_rate = OPUS_CLOCK

    def decode(self, encoded_frame: JitterFrame) -> list[Frame]:
        packet = av.Packet(encoded_frame.data)
        packet.pts = encoded_frame.timestamp
        packet.time_base = OPUS_TIME_BASE
        return list(self.codec.decode(packet))


class InlineDecoding:
    """Stands in for an aiortc receiver's decoder queue (``put``/``get``), decoding on
    ``put``.

    The receiver puts ``(codec, encoded frame)`` for each frame out of its jitter buffer, and
    ``None`` when it stops; its decoder thread calls :meth:`get` and is given ``None`` (end of
    stream) only once the receiver has stopped."""

    def __init__(self, frames: Any, decode_error: threading.Event) -> None:
        self._frames = frames  # the remote track's asyncio.Queue
        self._decode_error = decode_error
        self._decoder: tuple[str, Decoder] | None = None  # for the codec in use
        self._stopped = threading.Event()
        self.failures = 0

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            self._stopped.set()
            return
        codec, encoded = item
        if self._decoder is None or self._decoder[0] != codec.name:  # the first, or a change
            opus = codec.name.lower() == "opus"
            self._decoder = codec.name, MonoOpusDecoder() if opus else get_decoder(codec)
        decoder = self._decoder[1]
        try:
            frames = decoder.decode(encoded)
        except av.FFmpegError as exc:
            self.failures += 1
            if self.failures == 1:  # once a call: a broken peer sends them 50 times a second
                log.warning("undecodable audio from the peer", codec=codec.name, error=str(exc))
            self._decode_error.set()
            return
        for frame in frames:
            self._frames.put_nowait(frame)

    def get(self, block: bool = True, timeout: float | None = None) -> None:
        self._stopped.wait()
        return None
