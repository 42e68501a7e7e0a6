"""Whoever hears the assistant: the engine asks it what has been heard and tells it to stop.

A :class:`Listener` is the engine's only view of playout. A WebSocket client plays audio as
it arrives, so the wall clock says what it has heard (:class:`WallClockListener`); a phone
call or a WebRTC peer knows exactly, from its paced outbound media path and the carrier's
marks. Barge-in (:func:`stop_playout`) reads what was heard *before* telling the listener to
clear, so the position it truncates at is the one the caller really reached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from bridge import observe
from bridge.engine.items import MessageItem
from bridge.engine.spoken import SpokenText


@dataclass
class AssistantAudio:
    """Playout bookkeeping for an assistant message, for truncation on barge-in."""

    item: MessageItem
    spoken: SpokenText = field(default_factory=SpokenText)
    bytes_per_ms: float = 48.0
    first_audio_at: float | None = None  # monotonic time the first delta went out
    interrupted: bool = False  # barged in: what was not heard is gone

    @property
    def sent_ms(self) -> float:
        return self.spoken.duration_ms


class Listener(Protocol):
    def heard_ms(self, audio: AssistantAudio) -> float:
        """How much of ``audio`` the listener has heard, in milliseconds."""
        ...

    async def throttle(self, audio: AssistantAudio) -> None:
        """Called before more of ``audio`` is synthesized: wait while enough is queued."""
        ...

    def clear(self) -> None:
        """Stop playing now and drop whatever is queued (the caller barged in)."""
        ...


class WallClockListener:
    """A WebSocket client plays audio as it arrives: what has had time to play has played. It
    clears its own playback (and says how far it got with ``conversation.item.truncate``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock

    def heard_ms(self, audio: AssistantAudio) -> float:
        if audio.first_audio_at is None:
            return 0.0
        return min(audio.sent_ms, (self._clock() - audio.first_audio_at) * 1000)

    async def throttle(self, audio: AssistantAudio) -> None:
        return None

    def clear(self) -> None:
        return None


@runtime_checkable
class Resumable(Protocol):
    """A listener that can play on after a clear: a phone call, whose outbound path the bridge
    paces itself. The engine then pauses for a caller's sound and resumes after a backchannel
    (:mod:`bridge.engine.overlap`); other listeners are interrupted at once."""

    def resume(self, audio: bytes, *, done: bool) -> None:
        """Play ``audio`` now: the paused reply from where the listener stopped hearing it.
        ``done``: the reply has no more audio to come (send its last partial frame)."""
        ...


def pause_playout(listener: Listener, audio: AssistantAudio | None) -> int | None:
    """Read how much of the reply was heard, then clear the listener. Returns where it
    stopped, or None when the reply was heard in full (or there is none)."""
    heard = listener.heard_ms(audio) if audio is not None and not audio.interrupted else None
    listener.clear()
    if audio is None or heard is None or heard >= audio.sent_ms - 1:
        return None
    return int(heard)


def stop_playout(listener: Listener, audio: AssistantAudio | None) -> int | None:
    """Barge-in's first half, shared by the local engine and the relay: read how much of the
    reply was heard, then clear the listener. Returns where to truncate the reply, or None when
    it was heard in full (or there is none)."""
    heard = pause_playout(listener, audio)
    if audio is not None:
        audio.interrupted = True
    if heard is not None:
        observe.count("barge_in")  # the caller cut the reply short
    return heard
