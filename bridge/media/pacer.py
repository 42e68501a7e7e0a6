"""Outbound audio pacing and playout tracking (sans-I/O: the caller passes ``now``).

Carriers play what they receive in real time and buffer the rest. Sending everything at once
would make barge-in slow (a clear cannot always recall what is queued) and sending late would
starve the caller, so frames go out on absolute deadlines keeping at most ``lead_ms`` queued at
the carrier. ``play_clock`` is when everything sent so far will have played.

Frames may go out in small bursts: the sender wakes once the carrier holds ``lead_ms -
burst_ms`` and tops it up to ``lead_ms``. A wake-up of a call's event-loop task costs far more
than the frame it sends, and the carrier's buffer still keeps ``lead_ms - burst_ms`` of slack
against a late timer.

Marks ride in the same queue, so a mark goes out right after the audio it follows. Positions
are milliseconds of audio sent in the current reply (reset by :meth:`Playout.reset`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from bridge import observe

# An audio frame is its bytes. Plain bytes are invisible to the garbage collector, where an
# object per frame was not: a 20 s prompt queues 1,000 frames, and with 50 calls on hold every
# full collection walked some 16,000 of them, stalling every call's audio for 100-150 ms.
AudioFrame = bytes


@dataclass(frozen=True)
class MarkRequest:
    name: str


Outgoing = AudioFrame | MarkRequest


class Pacer:
    def __init__(self, frame_ms: int = 20, lead_ms: int = 200, burst_ms: int = 0) -> None:
        if not 0 <= burst_ms < lead_ms:
            raise ValueError(f"burst_ms must be in [0, lead_ms), got {burst_ms}")
        self.frame_ms = frame_ms
        self.lead_s = lead_ms / 1000
        self.burst_s = burst_ms / 1000
        self._queue: deque[Outgoing] = deque()
        self.play_clock = 0.0  # when all sent audio will have finished playing
        self._waiting_since: float | None = None  # frames queued, seen waiting, since then

    @property
    def pending(self) -> bool:
        return bool(self._queue)

    def push(self, item: Outgoing) -> None:
        self._queue.append(item)

    def next_deadline(self, now: float) -> float | None:
        """When the next frame may go out (``now`` or later), or None when nothing waits."""
        if not self._queue:
            self._waiting_since = None
            return None
        if self._waiting_since is None:
            self._waiting_since = now
        if isinstance(self._queue[0], MarkRequest):
            return now
        room = max(self.frame_ms / 1000, self.burst_s)  # a frame, or a burst of them
        return max(now, self.play_clock - self.lead_s + room)

    def due(self, now: float) -> list[Outgoing]:
        """Everything that may be sent at ``now``, in order."""
        out: list[Outgoing] = []
        while self._queue:
            head = self._queue[0]
            if isinstance(head, AudioFrame):
                # A gap in the audio (the carrier ran dry) restarts the clock from now. Dry
                # while this frame was already waiting: it is late (a stalled event loop).
                waiting = self._waiting_since
                if waiting is not None and waiting <= self.play_clock < now - self.frame_ms / 1000:
                    observe.count("late_frame")
                after = max(self.play_clock, now) + self.frame_ms / 1000
                if after - now > self.lead_s + 1e-9:
                    break  # sending it would put more than lead_s at the carrier
                self.play_clock = after
            out.append(self._queue.popleft())
        return out

    def clear(self, now: float) -> list[Outgoing]:
        """Drop what has not been sent; the carrier is told to drop what it holds."""
        dropped = list(self._queue)
        self._queue.clear()
        self._waiting_since = None
        self.play_clock = now
        return dropped

    def buffered_s(self, now: float) -> float:
        """Audio sent but (by the clock) not yet played."""
        return max(0.0, self.play_clock - now)


class Playout:
    """What the caller has heard of the current utterance: from marks when the carrier acks
    them, else estimated from the pacing clock."""

    def __init__(self, acks: bool) -> None:
        self.acks = acks
        self.sent_ms = 0.0
        self._marks: dict[str, float] = {}  # name -> position
        self._acked_ms = 0.0
        self._acked_at: float | None = None
        self._counter = 0

    def reset(self) -> None:
        self.sent_ms = 0.0
        self._marks.clear()  # acks of older marks (returned by a clear) are ignored
        self._acked_ms = 0.0
        self._acked_at = None

    def restart(self, position_ms: float, now: float) -> None:
        """Go on from ``position_ms`` of the utterance, heard up to there as of ``now`` (a
        cleared reply resumed): nothing beyond it was sent, older marks no longer count."""
        self.sent_ms = position_ms
        self._marks.clear()
        self._acked_ms, self._acked_at = position_ms, now

    def sent(self, ms: float) -> None:
        self.sent_ms += ms

    def new_mark(self) -> str:
        self._counter += 1
        name = f"m{self._counter}"
        self._marks[name] = self.sent_ms
        return name

    def acked(self, name: str, now: float) -> bool:
        """Record a mark echo; False for marks from a previous utterance (or unknown)."""
        position = self._marks.pop(name, None)
        if position is None:
            return False
        self._acked_ms, self._acked_at = position, now
        return True

    def heard_ms(self, now: float, buffered_s: float) -> float:
        if not self.acks:
            return max(0.0, self.sent_ms - buffered_s * 1000)
        if self._acked_at is None:
            return 0.0
        # Playback continued after the last echo, up to what was sent.
        return min(self.sent_ms, self._acked_ms + (now - self._acked_at) * 1000)
