"""One call's outbound audio path: framing, pacing, playout truth and clearing, sans I/O.

The owner feeds the assistant's audio in wire format (:meth:`OutboundAudio.push`), asks what
is due at ``now`` and when to wake next, and reports the far end's mark echoes. In return it
knows what the listener has heard of the current reply, exactly where the carrier acks marks
and from the pacing clock otherwise. A clear drops everything unsent and freezes "heard" at
the moment of the clear, which is what the reply must be truncated to.
"""

from __future__ import annotations

from bridge.audio import Framer
from bridge.media.pacer import MarkRequest, Outgoing, Pacer, Playout


class OutboundAudio:
    def __init__(
        self,
        frame_bytes: int,
        silence: bytes,
        bytes_per_ms: float,
        *,
        lead_ms: int,
        burst_ms: int,
        acks: bool,
    ) -> None:
        """``silence``: one byte of the wire format's silence, to pad the last frame.
        ``acks``: the far end echoes marks once it has played what came before them."""
        self._framer = Framer(frame_bytes, silence[:1])
        self._pacer = Pacer(lead_ms=lead_ms, burst_ms=burst_ms)
        self._playout = Playout(acks=acks)
        self._bytes_per_ms = bytes_per_ms
        self._heard_at_clear: float | None = None

    def start_reply(self) -> None:
        """A new reply: positions count from its first byte."""
        self._playout.reset()
        self._heard_at_clear = None

    def push(self, audio: bytes) -> None:
        # Positions count only audio that has left the framer: a mark must not claim the
        # partial frame still waiting for more audio (it goes out after the mark).
        frames = self._framer.push(audio)
        for frame in frames:
            self._pacer.push(frame)
        self._sent(sum(map(len, frames)))

    def flush(self) -> None:
        """The reply's audio is complete: send its last partial frame, padded."""
        waiting = self._framer.pending
        tail = self._framer.flush(pad=True)
        if tail:
            self._pacer.push(tail)
            self._sent(waiting)

    def _sent(self, audio_bytes: int) -> None:
        if not audio_bytes:
            return
        self._playout.sent(audio_bytes / self._bytes_per_ms)
        if self._playout.acks:
            self._pacer.push(MarkRequest(self._playout.new_mark()))

    def clear(self, now: float) -> bool:
        """Drop what is queued; False when nothing was playing (nothing to tell the far end)."""
        if not self._pacer.pending and self._pacer.buffered_s(now) <= 0:
            return False
        self._heard_at_clear = self.heard_ms(now)
        self._pacer.clear(now)
        self._framer.clear()
        return True

    def resume(self, now: float) -> float:
        """Play on after a clear (the caller's sound was a backchannel): positions go on from
        where the listener stopped hearing, which is returned; the caller pushes the rest of
        the reply again from there."""
        heard = self.heard_ms(now)
        self._heard_at_clear = None
        self._playout.restart(heard, now)
        return heard

    def heard_ms(self, now: float) -> float:
        if self._heard_at_clear is not None:
            return self._heard_at_clear
        return self._playout.heard_ms(now, self._pacer.buffered_s(now))

    def acked(self, mark: str, now: float) -> None:
        self._playout.acked(mark, now)

    @property
    def pending(self) -> bool:
        return self._pacer.pending

    def due(self, now: float) -> list[Outgoing]:
        return self._pacer.due(now)

    def next_deadline(self, now: float) -> float | None:
        return self._pacer.next_deadline(now)

    def buffered_s(self, now: float) -> float:
        """Audio sent but (by the clock) not yet played."""
        return self._pacer.buffered_s(now)
