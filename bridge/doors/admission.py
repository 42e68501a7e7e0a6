"""One admission step for every door: readiness and capacity checked and counted together.

:meth:`Admission.admit` is synchronous, so two calls arriving at once cannot both see the
last free place: whoever is admitted is counted before any other coroutine runs. What it
returns is either a :class:`Ticket` (release it when the call or session ends; it is a context
manager) or a :class:`Refused` that each door turns into its own answer (an HTTP status, a SIP
response, a closed socket). Every refusal is a 503 with a ``Retry-After``: the bridge is loading,
full, or draining (stopping: it takes no new calls, and the ones it has go on).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol

from bridge.pipeline.engines import Engines

Door = Literal["realtime", "carrier", "audiosocket", "sip", "softphone"]
DOORS: tuple[Door, ...] = ("realtime", "carrier", "audiosocket", "sip", "softphone")
Reason = Literal["loading", "full", "draining"]
# Seconds a refused client is asked to wait (a load balancer tries another bridge first).
RETRY_AFTER_S: dict[Reason, int] = {"loading": 10, "full": 5, "draining": 30}


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Reason
    message: str

    @property
    def http_status(self) -> int:
        return 503

    @property
    def retry_after(self) -> int:
        """Seconds, for a ``Retry-After`` header."""
        return RETRY_AFTER_S[self.reason]

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class AdmissionObserver(Protocol):
    """Told of every admission decision (metrics)."""

    def admitted(self, door: Door) -> None: ...
    def refused(self, door: Door, reason: Reason) -> None: ...
    def released(self, door: Door, outcome: str) -> None: ...


class Ticket:
    """One admitted call or session, counted until released; it carries the loaded engines
    (admission means they are there)."""

    def __init__(self, admission: Admission, door: Door, engines: Engines) -> None:
        self.door = door
        self.engines = engines
        self._admission = admission
        self._released = False
        self.outcome = "completed"  # how it ended, for metrics: "drained" when drain hung up

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._release(self.door, self.outcome)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


class Admission:
    def __init__(self, capacity: int, engines: Callable[[], Engines | None]) -> None:
        """``engines``: the loaded engines, or None while they load."""
        self.capacity = capacity
        self._engines = engines
        self.live: Counter[Door] = Counter()
        self.draining = False  # set once, by Runtime.drain: nothing new is admitted after
        self.observers: list[AdmissionObserver] = []
        self._idle: asyncio.Event | None = None  # made lazily, inside the event loop

    @property
    def total(self) -> int:
        return sum(self.live.values())

    @property
    def full(self) -> bool:
        return self.total >= self.capacity

    @property
    def state(self) -> Literal["loading", "ready", "full", "draining"]:
        """What readiness reports: only "ready" takes calls."""
        if self.draining:
            return "draining"
        if self._engines() is None:
            return "loading"
        return "full" if self.full else "ready"

    def admit(self, door: Door) -> Ticket | Refused:
        engines = self._engines()
        if self.draining:
            return self._refuse(door, "draining", "The bridge is draining: no new calls.")
        if engines is None:
            return self._refuse(door, "loading", "The bridge is still loading its models.")
        if self.full:
            message = f"The bridge is at capacity ({self.capacity} live calls)."
            return self._refuse(door, "full", message)
        self.live[door] += 1
        for observer in self.observers:
            observer.admitted(door)
        return Ticket(self, door, engines)

    def _refuse(self, door: Door, reason: Reason, message: str) -> Refused:
        for observer in self.observers:
            observer.refused(door, reason)
        return Refused(reason, message)

    async def wait_idle(self) -> None:
        """Return once no call or session is live."""
        while self.total:
            if self._idle is None or self._idle.is_set():
                self._idle = asyncio.Event()
            await self._idle.wait()

    def _release(self, door: Door, outcome: str) -> None:
        self.live[door] -= 1
        if self.total == 0 and self._idle is not None:
            self._idle.set()
        for observer in self.observers:
            observer.released(door, outcome)
