"""The carrier's playout, simulated (sans-I/O): audio the bridge sent plays in real time,
marks are echoed when playback reaches them, and a clear drops what has not played yet."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class Heard:
    """Audio that reached the caller's ear, with when it played."""

    started_at: float
    pcm: bytes


@dataclass
class Playback:
    frame_s: float = 0.02
    _queue: deque[tuple[float, bytes | str]] = field(default_factory=deque)  # (play time, item)
    _end: float = 0.0  # when the last queued audio finishes
    heard: list[Heard] = field(default_factory=list)
    underruns: int = 0  # audio arrived after the previous audio ran out, within one reply

    def media(self, pcm: bytes, now: float, frame_bytes: int) -> None:
        # A gap shorter than a second is the same reply starving; longer is a new reply.
        if self._end and self.frame_s * 1.5 < now - self._end < 1.0:
            self.underruns += 1
        for start in range(0, len(pcm), frame_bytes):
            at = max(self._end, now)
            self._queue.append((at, pcm[start : start + frame_bytes]))
            self._end = at + self.frame_s

    def next_start(self, now: float) -> float:
        """When audio arriving at ``now`` starts to play (after what is queued)."""
        return max(self._end, now)

    def mark(self, name: str, now: float) -> list[str]:
        """Queue a mark behind the audio; echoed at once when nothing is playing."""
        if not self._queue:
            return [name]
        self._queue.append((max(self._end, now), name))
        return []

    def clear(self) -> list[str]:
        """Drop unplayed audio; pending marks are returned (carriers echo them on clear)."""
        marks = [item for _, item in self._queue if isinstance(item, str)]
        self._queue.clear()
        self._end = 0.0
        return marks

    def advance(self, now: float) -> list[str]:
        """Play everything due by ``now``; returns the marks playback reached."""
        marks: list[str] = []
        while self._queue and self._queue[0][0] <= now:
            at, item = self._queue.popleft()
            if isinstance(item, str):
                marks.append(item)
            else:
                self.heard.append(Heard(at, item))
        return marks

    @property
    def playing(self) -> bool:
        return bool(self._queue)
