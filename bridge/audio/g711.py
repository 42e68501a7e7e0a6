"""G.711 μ-law (PCMU) and A-law (PCMA) companding for 16-bit signed little-endian PCM, and the
level of such PCM.

The per-sample work is done by ``audioop`` (C code). On Python >= 3.13 the ``audioop-lts``
package supplies the same module.
"""

from __future__ import annotations

import sys
import warnings
from enum import Enum

with warnings.catch_warnings():
    # Python 3.11/3.12 warn that audioop is deprecated; we depend on audioop-lts for 3.13+,
    # and pytest turns warnings into errors, so keep the import quiet.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

__all__ = [
    "G711Law",
    "alaw_to_pcm16",
    "pcm16_rms",
    "pcm16_to_alaw",
    "pcm16_to_ulaw",
    "ulaw_to_pcm16",
]

_SAMPLE_WIDTH = 2
# audioop works in native byte order; our PCM is always little-endian on the wire.
_NEEDS_SWAP = sys.byteorder == "big"


def _check_pcm16(data: bytes) -> None:
    if len(data) % _SAMPLE_WIDTH:
        raise ValueError(
            f"16-bit PCM must have an even number of bytes, got {len(data)} "
            "(a chunk was split in the middle of a sample)"
        )


def _to_native(pcm: bytes) -> bytes:
    return audioop.byteswap(pcm, _SAMPLE_WIDTH) if _NEEDS_SWAP else pcm


def _from_native(pcm: bytes) -> bytes:
    return audioop.byteswap(pcm, _SAMPLE_WIDTH) if _NEEDS_SWAP else pcm


def ulaw_to_pcm16(data: bytes) -> bytes:
    """Decode μ-law bytes to 16-bit little-endian PCM (two bytes out per byte in)."""
    return _from_native(audioop.ulaw2lin(data, _SAMPLE_WIDTH))


def pcm16_to_ulaw(data: bytes) -> bytes:
    """Encode 16-bit little-endian PCM to μ-law bytes (one byte out per sample)."""
    _check_pcm16(data)
    return audioop.lin2ulaw(_to_native(data), _SAMPLE_WIDTH)


def alaw_to_pcm16(data: bytes) -> bytes:
    """Decode A-law bytes to 16-bit little-endian PCM (two bytes out per byte in)."""
    return _from_native(audioop.alaw2lin(data, _SAMPLE_WIDTH))


def pcm16_to_alaw(data: bytes) -> bytes:
    """Encode 16-bit little-endian PCM to A-law bytes (one byte out per sample)."""
    _check_pcm16(data)
    return audioop.lin2alaw(_to_native(data), _SAMPLE_WIDTH)


def pcm16_rms(data: bytes) -> float:
    """Root mean square of 16-bit little-endian PCM, in sample units (full scale 32768)."""
    _check_pcm16(data)
    return float(audioop.rms(_to_native(data), _SAMPLE_WIDTH))


_ALIASES = {
    "pcmu": "pcmu",
    "ulaw": "pcmu",
    "mulaw": "pcmu",
    "μlaw": "pcmu",
    "g711u": "pcmu",
    "pcma": "pcma",
    "alaw": "pcma",
    "g711a": "pcma",
}


class G711Law(Enum):
    """A G.711 law, named as in SDP (``PCMU``/``PCMA``, lower-cased)."""

    PCMU = "pcmu"
    PCMA = "pcma"

    @classmethod
    def from_name(cls, name: str) -> G711Law:
        """Look a law up by codec name, case-insensitively ("PCMU", "ulaw", "alaw", ...)."""
        key = name.strip().lower().replace("-", "").replace("_", "").replace(".", "")
        try:
            return cls(_ALIASES[key])
        except KeyError:
            raise ValueError(f"unknown G.711 law {name!r}; expected 'pcmu' or 'pcma'") from None

    def encode(self, pcm: bytes) -> bytes:
        """16-bit little-endian PCM -> G.711 bytes."""
        return pcm16_to_ulaw(pcm) if self is G711Law.PCMU else pcm16_to_alaw(pcm)

    def decode(self, data: bytes) -> bytes:
        """G.711 bytes -> 16-bit little-endian PCM."""
        return ulaw_to_pcm16(data) if self is G711Law.PCMU else alaw_to_pcm16(data)

    @property
    def silence(self) -> bytes:
        """The one-byte code for digital silence (what to pad frames with)."""
        return b"\xff" if self is G711Law.PCMU else b"\xd5"

    @property
    def payload_type(self) -> int:
        """The static RTP payload type (RFC 3551)."""
        return 0 if self is G711Law.PCMU else 8
