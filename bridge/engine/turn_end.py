"""The end of a caller's turn under ``semantic_vad``: a short silence, then ask the model.

Silence alone is a poor rule (a pause after "um" is as quiet as the end of a question), so
with ``semantic_vad`` and an end-of-turn model loaded, a pause of ``check_ms`` (200 ms) asks
the model whether the turn is complete. At or above the eagerness's threshold the turn ends
at once; below it the engine keeps listening, asks again after each further ``recheck_ms`` of
silence (the model hears the longer pause), and ends the turn whatever the model says after
the eagerness's maximum wait, OpenAI's documented 8 / 4 / 2 s for low / medium / high (auto is
medium). That maximum is the VAD's own silence duration, so it also ends the turn when the
model is slow or fails. Speech resuming before a verdict drops the question asked.

:class:`TurnEndSchedule` decides when to ask (pure, stream milliseconds); :class:`TurnEnd`
runs the question off the event loop and reports a complete turn on the next audio chunk.
``server_vad`` never comes here: it keeps its documented meaning (``silence_duration_ms``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from bridge.config import ConversationSettings
from bridge.engine.config import Eagerness, SemanticVad, TurnDetection
from bridge.logging import get_logger
from bridge.pipeline.turn_model import TurnModel

log = get_logger("bridge.engine.turn_end")


@dataclass(frozen=True, slots=True)
class Eager:
    threshold: float  # the model's probability that counts as "finished"
    max_wait_ms: int  # silence that ends the turn whatever the model says


EAGERNESS: dict[Eagerness, Eager] = {
    "low": Eager(threshold=0.7, max_wait_ms=8000),
    "medium": Eager(threshold=0.5, max_wait_ms=4000),
    "auto": Eager(threshold=0.5, max_wait_ms=4000),
    "high": Eager(threshold=0.3, max_wait_ms=2000),
}


@dataclass(frozen=True, slots=True)
class TurnEndParams:
    threshold: float
    check_ms: int  # the first question, after this much silence
    recheck_ms: int  # asked again after each further this much silence
    max_wait_ms: int


def turn_end_params(
    detection: TurnDetection, *, check_ms: int, recheck_ms: int
) -> TurnEndParams | None:
    """The model's schedule for ``detection``; None where silence alone decides."""
    if not isinstance(detection, SemanticVad):
        return None
    eager = EAGERNESS[detection.eagerness]
    return TurnEndParams(eager.threshold, check_ms, recheck_ms, eager.max_wait_ms)


def new_turn_end(
    model: TurnModel | None,
    detection: TurnDetection,
    settings: ConversationSettings,
    audio: Callable[[], tuple[bytes, int]],
) -> TurnEnd:
    """A session's end-of-turn questions: active for ``semantic_vad`` with a model loaded."""
    params = turn_end_params(
        detection, check_ms=settings.turn_check_ms, recheck_ms=settings.turn_recheck_ms
    )
    return TurnEnd(model if params is not None else None, params, audio)


class TurnEndSchedule:
    """When to ask about a pause (sans-I/O). A pause is named by where its speech ended."""

    def __init__(self, params: TurnEndParams) -> None:
        self.params = params
        self._pause: float | None = None
        self._asked_at: int | None = None  # silence (ms) when the last question was asked

    def due(self, end_ms: float, quiet_ms: int) -> bool:
        """Is a question due ``quiet_ms`` into the pause after speech that ended at ``end_ms``?"""
        if end_ms != self._pause:
            self._pause, self._asked_at = end_ms, None
        p = self.params
        at = p.check_ms if self._asked_at is None else self._asked_at + p.recheck_ms
        return quiet_ms >= at and quiet_ms < p.max_wait_ms

    def asked(self, quiet_ms: int) -> None:
        self._asked_at = quiet_ms

    def complete(self, probability: float) -> bool:
        return probability >= self.params.threshold


@dataclass
class _Question:
    end_ms: float
    task: asyncio.Task[float]


class TurnEnd:
    """One session's end-of-turn questions: at most one in flight, for the current pause."""

    def __init__(
        self,
        model: TurnModel | None,
        params: TurnEndParams | None,
        audio: Callable[[], tuple[bytes, int]],
    ) -> None:
        """``audio()``: the turn so far, up to now (16-bit PCM, and its sample rate). Without
        a model or parameters it never asks (silence alone ends turns)."""
        self._model = model
        self.schedule = TurnEndSchedule(params) if params is not None else None
        self._audio = audio
        self._question: _Question | None = None
        self.probabilities: list[float] = []  # every verdict, in order (for logs and tests)

    @property
    def active(self) -> bool:
        return self._model is not None

    def poll(self, pause: tuple[float, int] | None) -> bool:
        """After each chunk of audio: True when the turn is over now. ``pause``: where the
        caller's speech ended and how long they have been quiet (None while not speaking)."""
        if self._model is None or self.schedule is None:
            return False
        question = self._question
        if question is not None and (pause is None or pause[0] != question.end_ms):
            self.cancel()  # the caller spoke on (or the turn ended): that answer is moot
            question = None
        if pause is None:
            return False
        end_ms, quiet_ms = pause
        if question is not None and question.task.done():
            self._question = None
            probability = _result(question.task)
            if probability is not None:
                self.probabilities.append(probability)
                log.debug("end of turn?", probability=round(probability, 3), quiet_ms=quiet_ms)
                if self.schedule.complete(probability):
                    return True
        if self._question is None and self.schedule.due(end_ms, quiet_ms):
            self.schedule.asked(quiet_ms)
            pcm, rate = self._audio()
            task = asyncio.create_task(self._model.complete_probability(pcm, rate))
            self._question = _Question(end_ms, task)
        return False

    def cancel(self) -> None:
        if self._question is not None:
            self._question.task.cancel()
            self._question = None


def _result(task: asyncio.Task[float]) -> float | None:
    if task.cancelled():
        return None
    error = task.exception()
    if error is not None:  # the maximum wait still ends the turn
        log.warning("end-of-turn model failed", error=str(error))
        return None
    return task.result()
