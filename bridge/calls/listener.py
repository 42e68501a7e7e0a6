"""The caller, as the engine's :class:`~bridge.engine.listener.Listener`: what they heard comes
from the call's paced outbound path, and clearing also tells the carrier to drop its queue. It
can play on after a clear (:class:`~bridge.engine.listener.Resumable`), so a caller's "uh-huh"
only pauses the agent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bridge.engine.listener import AssistantAudio
from bridge.media.outbound import OutboundAudio

LOOKAHEAD_MS = 2500  # speech synthesized ahead of what the caller has heard


class PhoneListener:
    def __init__(
        self,
        outbound: OutboundAudio,
        clock: Callable[[], float],
        on_clear: Callable[[], None],
        on_audio: Callable[[bytes, bool], None],
    ) -> None:
        self._outbound = outbound
        self._clock = clock
        self._on_clear = on_clear  # send the carrier's clear message
        self._on_audio = on_audio  # queue audio to play (and whether the reply is complete)

    def heard_ms(self, audio: AssistantAudio) -> float:
        return self._outbound.heard_ms(self._clock())

    async def throttle(self, audio: AssistantAudio) -> None:
        """Synthesize at most LOOKAHEAD_MS ahead of what the caller has heard: a barge-in then
        wastes little work, and synthesis does not starve speech detection of CPU."""
        ahead_ms = audio.sent_ms - self._outbound.heard_ms(self._clock())
        if ahead_ms > LOOKAHEAD_MS:
            # Audio plays in real time, so this is exactly how long until we are due again.
            await asyncio.sleep((ahead_ms - LOOKAHEAD_MS) / 1000)

    def clear(self) -> None:
        if self._outbound.clear(self._clock()):
            self._on_clear()

    def resume(self, audio: bytes, *, done: bool) -> None:
        self._outbound.resume(self._clock())
        self._on_audio(audio, done)
