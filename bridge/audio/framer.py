"""Cut a byte stream that arrives in arbitrary chunks into fixed-size frames (e.g. 20 ms)."""

from __future__ import annotations

__all__ = ["Framer", "frame_bytes"]


def frame_bytes(rate: int, ms: int = 20, sample_width: int = 2) -> int:
    """Bytes in one mono frame of ``ms`` milliseconds at ``rate`` Hz.

    ``sample_width`` is 2 for 16-bit PCM and 1 for G.711.
    """
    if rate <= 0 or ms <= 0 or sample_width <= 0:
        raise ValueError(
            f"rate, ms and sample_width must be positive, got {rate}, {ms}, {sample_width}"
        )
    samples, rem = divmod(rate * ms, 1000)
    if rem:
        # A fractional sample per frame would make frame boundaries drift.
        raise ValueError(f"{ms} ms at {rate} Hz is not a whole number of samples")
    return samples * sample_width


class Framer:
    """Accumulate chunks and hand out complete frames of exactly ``frame_bytes`` bytes.

    ``silence`` is the single byte used to pad the last partial frame: ``b"\\x00"`` for
    PCM (the default), ``b"\\xff"`` for μ-law, ``b"\\xd5"`` for A-law.
    """

    def __init__(self, frame_bytes: int, silence: bytes = b"\x00") -> None:
        if frame_bytes <= 0:
            raise ValueError(f"frame_bytes must be positive, got {frame_bytes}")
        if len(silence) != 1:
            raise ValueError(f"silence must be exactly one byte, got {silence!r}")
        self._size = frame_bytes
        self._silence = bytes(silence)
        self._buf = bytearray()

    @property
    def frame_bytes(self) -> int:
        return self._size

    @property
    def pending(self) -> int:
        """Bytes held back because they do not yet fill a frame (always < frame_bytes)."""
        return len(self._buf)

    def push(self, data: bytes) -> list[bytes]:
        """Add a chunk; return every frame it completes, oldest first (maybe none)."""
        self._buf += data
        count = len(self._buf) // self._size
        if not count:
            return []
        end = count * self._size
        view = memoryview(self._buf)
        try:
            frames = [bytes(view[i : i + self._size]) for i in range(0, end, self._size)]
        finally:
            # A live export would stop the bytearray from being resized below.
            view.release()
        del self._buf[:end]
        return frames

    def flush(self, pad: bool = True) -> bytes | None:
        """Return what is pending (padded to a full frame with silence unless ``pad`` is
        False) and empty the buffer; None when nothing is pending."""
        if not self._buf:
            return None
        rest = bytes(self._buf)
        self._buf.clear()
        if pad:
            rest += self._silence * (self._size - len(rest))
        return rest

    def clear(self) -> None:
        """Drop pending bytes (e.g. on barge-in, when queued audio is discarded)."""
        self._buf.clear()
