"""Barge-in, decided in one place: what the engine does when the caller speaks over a reply.

Two ways, chosen per listener:

* **at once** (:meth:`BargeIn.interrupt`): read what the listener heard, tell it to clear,
  cancel the reply, truncate it to what was heard, in that order. For listeners that cannot
  play on after a clear (a WebSocket client plays its own audio), with ``BRIDGE_BACKCHANNELS``
  off, and for a key pressed over a prompt.
* **pause, then decide** (a :class:`~bridge.engine.listener.Resumable` listener, a phone
  call): the same read and clear, but the reply is only paused; the verdict of
  :mod:`bridge.engine.overlap` then cancels and truncates it (an interruption) or plays it on
  from where the caller stopped hearing it (a backchannel or noise).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bridge import observe
from bridge.config import ConversationSettings
from bridge.engine.listener import (
    AssistantAudio,
    Listener,
    Resumable,
    pause_playout,
    stop_playout,
)
from bridge.engine.overlap import Backchannels, Overlap, Verdict
from bridge.engine.responder import ResponseRun
from bridge.engine.response import StatusReason
from bridge.logging import get_logger

log = get_logger("bridge.engine.barge_in")


class BargeIn:
    def __init__(
        self,
        listener: Listener,
        settings: ConversationSettings,
        *,
        cancel: Callable[[StatusReason], Awaitable[None]],
        truncate: Callable[[AssistantAudio, int | None], None],
        sample_bytes: Callable[[], int],
    ) -> None:
        """``cancel(reason)``: cancel the active reply; ``truncate(audio,
        heard)``: cut the reply to what was heard (None: heard in full); ``sample_bytes()``:
        bytes per sample of the output format (a replay starts on a whole sample)."""
        self._listener = listener
        self._cancel = cancel
        self._truncate = truncate
        self._sample_bytes = sample_bytes
        self._interrupt_min_ms = settings.interrupt_min_ms
        self._backchannels = Backchannels(settings.backchannel_words)
        self._pauses = settings.backchannels and isinstance(listener, Resumable)
        self.overlap: Overlap | None = None  # a paused reply awaiting the verdict

    async def speech_started(
        self, start_ms: float, run: ResponseRun | None, *, answering: bool
    ) -> None:
        """The caller's speech began while the reply was being spoken. ``answering``: the
        session answers the caller's turns itself (an agent); a dialplan prompt, whose flow
        goes on as soon as it has played, is interrupted at once."""
        if not (self._pauses and answering):
            await self.interrupt(run)
            return
        audio = run.audio if run is not None else None
        heard = pause_playout(self._listener, audio)
        if run is not None:
            run.pause()
        self.overlap = Overlap(start_ms, run, audio, heard)
        log.debug("reply paused for the caller", heard_ms=heard)

    def abandon(self) -> None:
        """A new reply starts while one is paused: the paused one is over, cut where the
        listener stopped hearing it (as an interruption, without the cancel)."""
        overlap, self.overlap = self.overlap, None
        if overlap is not None and overlap.audio is not None:
            overlap.audio.interrupted = True
            self._truncate(overlap.audio, overlap.heard_ms)

    async def interrupt(
        self, run: ResponseRun | None, reason: StatusReason = "turn_detected"
    ) -> None:
        """Stop the reply for good, now: read, clear, cancel, truncate."""
        self.overlap = None
        audio = run.audio if run is not None else None
        heard = stop_playout(self._listener, audio)
        await self._cancel(reason)
        if audio is not None:
            self._truncate(audio, heard)

    async def judge(
        self, voiced_until_ms: float | None, transcript: str | None, *, final: bool = False
    ) -> Verdict:
        """Weigh the overlapping speech so far; a verdict other than WAIT is carried out.
        ``final``: the speech has ended, so no transcript (a failed transcription) means an
        interruption rather than waiting."""
        overlap = self.overlap
        if overlap is None:
            return Verdict.INTERRUPTION
        verdict = overlap.judge(
            voiced_until_ms,
            transcript,
            interrupt_min_ms=self._interrupt_min_ms,
            backchannels=self._backchannels,
        )
        if verdict is Verdict.WAIT and not final:
            return verdict
        if verdict is Verdict.WAIT:
            verdict = Verdict.INTERRUPTION
        self.overlap = None
        log.info("speech over the reply", verdict=verdict.value, transcript=transcript)
        if verdict is Verdict.INTERRUPTION:
            if overlap.audio is not None:
                overlap.audio.interrupted = True
                if overlap.heard_ms is not None:
                    observe.count("barge_in")
            await self._cancel("turn_detected")
            if overlap.audio is not None:
                self._truncate(overlap.audio, overlap.heard_ms)
        else:
            observe.count("backchannel")
            self._resume(overlap)
        return verdict

    def _resume(self, overlap: Overlap) -> None:
        """Play the reply on from where the caller stopped hearing it."""
        run, audio = overlap.run, overlap.audio
        if run is None:
            return
        sent = run.sent_audio()
        cut = len(sent)
        if audio is not None and overlap.heard_ms is not None:
            cut = int(overlap.heard_ms * audio.bytes_per_ms)
            cut -= cut % self._sample_bytes()
        assert isinstance(self._listener, Resumable)
        self._listener.resume(sent[cut:], done=run.audio_done)
        run.resume()
