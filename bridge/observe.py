"""What the engine, the pipeline and outbound media measure, told to whoever observes the call.

The engine stays free of any metrics library: it calls :func:`timing` and :func:`count`, and
:mod:`bridge.metrics` (Prometheus) is the observer. The observer rides on a context variable
that a door sets around each call or session (:func:`observing`), so every task the call
starts reports to its own bridge's metrics (tests run several bridges in one process) and
nothing is reported where no one observes. Standard library only: any package may import it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Literal, Protocol

Timing = Literal[
    "turn_gap",  # the caller's last speech (VAD) -> the reply's first audio out of the engine
    "stt",  # one transcription, on the STT pool
    "transcription_wait",  # queued for a free STT worker
    "llm_first_token",  # request sent -> first token (prefetched or scripted replies: none)
    "tts_first_audio",  # the first clause of a reply -> its first audio
]
Count = Literal["barge_in", "late_frame"]


class Observer(Protocol):
    def timing(self, name: Timing, seconds: float) -> None: ...
    def count(self, name: Count, amount: int = 1) -> None: ...


_current: ContextVar[Observer | None] = ContextVar("bridge_observer", default=None)


def timing(name: Timing, seconds: float) -> None:
    observer = _current.get()
    if observer is not None:
        observer.timing(name, seconds)


def count(name: Count, amount: int = 1) -> None:
    observer = _current.get()
    if observer is not None:
        observer.count(name, amount)


@contextlib.contextmanager
def observing(observer: Observer | None) -> Iterator[None]:
    """Report what happens in this context (and the tasks it starts) to ``observer``."""
    token = _current.set(observer)
    try:
        yield
    finally:
        _current.reset(token)
