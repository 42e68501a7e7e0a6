"""The receive buffer for a peer's audio: each packet as it comes, in order.

aiortc's jitter buffer is built for video, where a frame spans packets: it knows a frame is
complete only when a packet of the next one arrives, and for audio it also waits for four
frames before the first. Every packet of a caller's speech then reaches speech recognition
20-80 ms late, and so does the end of every turn. An audio packet is a whole frame, so this
buffer hands each one on at once. A packet older than one already handed on (reordered on the
way, or a duplicate) is dropped and counted: the recogniser copes with 20 ms missing better
than with every turn ending late. It keeps aiortc's interface (``add`` returns whether to ask
for a key frame, and the frame).
"""

from __future__ import annotations

from typing import Any

from aiortc.jitterbuffer import JitterFrame

SEQUENCE_SPAN = 1 << 16
MAX_MISORDER = 100  # further behind than this, the peer restarted its sequence: follow it


class AudioJitterBuffer:
    def __init__(self) -> None:
        self._next: int | None = None  # the sequence number expected next
        self.late = 0  # packets dropped for coming after a later one

    def add(self, packet: Any) -> tuple[bool, JitterFrame | None]:
        sequence = packet.sequence_number
        if self._next is not None:
            behind = (self._next - 1 - sequence) % SEQUENCE_SPAN  # 0: the last one again
            if behind < MAX_MISORDER:
                self.late += 1
                return False, None
        self._next = (sequence + 1) % SEQUENCE_SPAN
        return False, JitterFrame(data=packet._data, timestamp=packet.timestamp)
