"""What the engine, the pipeline and outbound media measure, told to whoever observes the call.

The engine stays free of any metrics library: it calls :func:`timing` and :func:`count`, and
:mod:`bridge.metrics` (Prometheus) is the observer. It marks spans of work the same way
(:func:`span`, :func:`start_span`, :func:`annotate`); an observer that traces
(:mod:`bridge.tracing`) records them, and where none does they cost one context-variable read.
The observer rides on a context variable that a door sets around each call or session
(:func:`observing`), so every task the call starts reports to its own bridge's metrics (tests
run several bridges in one process) and nothing is reported where no one observes. Standard
library only: any package may import it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import Literal, Protocol, runtime_checkable

Timing = Literal[
    "turn_gap",  # the caller's last speech (VAD) -> the reply's first audio out of the engine
    "stt",  # one transcription, on the STT pool
    "transcription_wait",  # queued for a free STT worker
    "llm_first_token",  # request sent -> first token (prefetched or scripted replies: none)
    "tts_first_audio",  # the first clause of a reply -> its first audio
]
Count = Literal["barge_in", "backchannel", "late_frame"]
Attribute = str | bool | int | float | Sequence[str]


class Observer(Protocol):
    def timing(self, name: Timing, seconds: float) -> None: ...
    def count(self, name: Count, amount: int = 1) -> None: ...


class Span(Protocol):
    """A span of work under way; :meth:`end` once."""

    def set(self, **attributes: Attribute) -> None: ...
    def end(self, error: BaseException | None = None) -> None: ...


@runtime_checkable
class Tracer(Protocol):
    """An observer that also traces. ``parent``: a span this tracer started, or None for the
    tracer's own notion of the current context (a root span, usually)."""

    def start_span(
        self, name: str, parent: Span | None, attributes: dict[str, Attribute]
    ) -> Span: ...


class _NoSpan:
    """What span hooks give where nothing traces: every method does nothing."""

    def set(self, **attributes: Attribute) -> None:
        pass

    def end(self, error: BaseException | None = None) -> None:
        pass


NO_SPAN: Span = _NoSpan()
_NOTHING = contextlib.nullcontext(NO_SPAN)  # reusable: entering it keeps no state
_current: ContextVar[Observer | None] = ContextVar("bridge_observer", default=None)
_span: ContextVar[Span | None] = ContextVar("bridge_span", default=None)


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


def start_span(name: str, /, **attributes: Attribute) -> Span:
    """Start a span, a child of the current span; the caller ends it. It does not become the
    current span (see :func:`within`). :data:`NO_SPAN` where nothing traces."""
    observer = _current.get()
    if not isinstance(observer, Tracer):
        return NO_SPAN
    return observer.start_span(name, _span.get(), attributes)


def span(name: str, /, **attributes: Attribute) -> AbstractContextManager[Span]:
    """A span around a block, current inside it (spans and tasks started there are its
    children); an exception ending the block is recorded on it. Never use it across the
    ``yield`` of an async generator (the current span would leak to its consumer): use
    :func:`start_span` there."""
    observer = _current.get()
    if not isinstance(observer, Tracer):
        return _NOTHING
    return _spanning(observer.start_span(name, _span.get(), attributes))


@contextlib.contextmanager
def _spanning(started: Span) -> Iterator[Span]:
    token = _span.set(started)
    try:
        yield started
    except BaseException as exc:
        started.end(exc)
        raise
    else:
        started.end()
    finally:
        _span.reset(token)


@contextlib.contextmanager
def within(parent: Span | None) -> Iterator[None]:
    """Make ``parent`` the current span in this block (None: leave the current one)."""
    if parent is None or parent is NO_SPAN:
        yield
        return
    token = _span.set(parent)
    try:
        yield
    finally:
        _span.reset(token)


def annotate(**attributes: Attribute) -> None:
    """Set attributes on the current span, if any."""
    current = _span.get()
    if current is not None:
        current.set(**attributes)


class _Observers:
    """Several observers as one: timings and counts go to each, spans to the one tracer."""

    def __init__(self, observers: list[Observer]) -> None:
        self._observers = observers
        self._tracer = next((o for o in observers if isinstance(o, Tracer)), None)

    def timing(self, name: Timing, seconds: float) -> None:
        for observer in self._observers:
            observer.timing(name, seconds)

    def count(self, name: Count, amount: int = 1) -> None:
        for observer in self._observers:
            observer.count(name, amount)

    def start_span(self, name: str, parent: Span | None, attributes: dict[str, Attribute]) -> Span:
        if self._tracer is None:
            return NO_SPAN
        return self._tracer.start_span(name, parent, attributes)


def fan_out(*observers: Observer | None) -> Observer | None:
    """One observer for all of ``observers`` (None ones left out; None if none is left)."""
    present = [o for o in observers if o is not None]
    if len(present) <= 1:
        return present[0] if present else None
    return _Observers(present)
