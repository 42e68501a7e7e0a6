"""One admission step for every door: readiness and capacity checked and counted together.

:meth:`Admission.admit` is synchronous, so two calls arriving at once cannot both see the
last free place: whoever is admitted is counted before any other coroutine runs. What it
returns is either a :class:`Ticket` (release it when the call or session ends; it is a context
manager) or a :class:`Refused` that each door turns into its own answer (an HTTP status, a SIP
response, a closed socket).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from bridge.pipeline.engines import Engines

Door = Literal["realtime", "carrier", "audiosocket", "sip"]


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Literal["loading", "full"]
    message: str

    @property
    def http_status(self) -> int:
        return 503 if self.reason == "loading" else 429


class Ticket:
    """One admitted call or session, counted until released; it carries the loaded engines
    (admission means they are there)."""

    def __init__(self, admission: Admission, door: Door, engines: Engines) -> None:
        self.door = door
        self.engines = engines
        self._admission = admission
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._release(self.door)

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

    @property
    def total(self) -> int:
        return sum(self.live.values())

    @property
    def full(self) -> bool:
        return self.total >= self.capacity

    def admit(self, door: Door) -> Ticket | Refused:
        engines = self._engines()
        if engines is None:
            return Refused("loading", "The bridge is still loading its models.")
        if self.full:
            return Refused("full", f"The bridge is at capacity ({self.capacity} live calls).")
        self.live[door] += 1
        return Ticket(self, door, engines)

    def _release(self, door: Door) -> None:
        self.live[door] -= 1
