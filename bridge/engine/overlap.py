"""The caller makes a sound while the agent speaks: stop the audio at once, decide a moment later.

Plain VAD fires on backchannels ("uh-huh", "yeah", "okay") and on noise, and cancelling the
reply for each of them kills answers the caller was happily listening to. So, where the
listener can play on after a clear (a phone call: :class:`~bridge.engine.listener.Resumable`),
speech over the agent *pauses* playout at once (the carrier's queue is cleared, the position
the caller stopped hearing at is kept, the reply's generation goes on unheard) and the cancel
waits for a verdict:

* **interruption** – the overlapping speech has lasted ``interrupt_min_ms``, or its transcript
  (taken in the caller's first short pause, as for any turn) holds words that are not a
  backchannel: the reply is cancelled and truncated where the caller stopped hearing it, and
  the caller's speech goes on as their turn;
* **backchannel** – the transcript is only backchannel words, or empty (noise): the reply
  resumes from where the caller stopped hearing it, and the sound is dropped (it never becomes
  a user turn that asks for a reply), so the conversation history stays exact.

This module is the verdict (pure); the session carries it out. ``interrupt_response: false``
never gets here: the caller's speech changes nothing while the agent speaks.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bridge.engine.listener import AssistantAudio
from bridge.engine.responder import ResponseRun

MAX_BACKCHANNEL_WORDS = 6  # longer than this is somebody saying something
# Whisper (tiny.en) hears a hummed "mm-hmm" as "in my mom" and "hmm" as "them" unless told what
# to expect; with this prompt it writes them as said, and real words ("Stop. Wait.", "No,
# that's wrong.") still come out as words. Used only for speech over a reply.
BACKCHANNEL_PROMPT = "Uh-huh. Mm-hmm. Yeah. Okay. Right."


def with_backchannel_prompt(prompt: str | None) -> str:
    """The transcription prompt for speech over a reply (after the session's own, if any)."""
    return f"{prompt} {BACKCHANNEL_PROMPT}" if prompt else BACKCHANNEL_PROMPT


class Verdict(enum.Enum):
    WAIT = "wait"
    BACKCHANNEL = "backchannel"
    INTERRUPTION = "interruption"


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " ")).split()


class Backchannels:
    """What counts as a backchannel: phrases of one or more words ("uh-huh", "i see")."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self._phrases = {tuple(_words(phrase)) for phrase in phrases} - {()}
        self._longest = max((len(p) for p in self._phrases), default=0)

    def match(self, text: str) -> bool:
        """``text`` is nothing but backchannel phrases (or no words at all: noise)."""
        words = _words(text)
        if len(words) > MAX_BACKCHANNEL_WORDS:
            return False
        at = 0
        while at < len(words):
            size = next(
                (
                    n
                    for n in range(self._longest, 0, -1)
                    if tuple(words[at : at + n]) in self._phrases
                ),
                0,
            )
            if not size:
                return False
            at += size
        return True


@dataclass
class Overlap:
    """Speech that began over the agent's reply, with the reply paused until the verdict."""

    start_ms: float  # stream time the overlapping speech began
    run: ResponseRun | None
    audio: AssistantAudio | None
    heard_ms: int | None  # where the listener stopped hearing (None: heard in full)

    def judge(
        self,
        voiced_until_ms: float | None,
        transcript: str | None,
        *,
        interrupt_min_ms: int,
        backchannels: Backchannels,
    ) -> Verdict:
        """``voiced_until_ms``: where the speech's last voiced audio ends (None once it has
        stopped); ``transcript``: the speech so far as text, once transcribed in a pause."""
        if voiced_until_ms is not None and voiced_until_ms - self.start_ms >= interrupt_min_ms:
            return Verdict.INTERRUPTION  # sustained speech: the caller wants the floor
        if transcript is None:
            return Verdict.WAIT
        return Verdict.BACKCHANNEL if backchannels.match(transcript) else Verdict.INTERRUPTION
