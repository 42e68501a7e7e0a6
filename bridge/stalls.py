"""Event-loop stall reports: what the loop was doing when it stopped answering.

Every call's audio goes out from the event loop, so a loop that stops for 100 ms makes every
caller hear a gap. The lag histogram in :mod:`bridge.metrics` says how often that happens; this
says why. The loop beats a heartbeat; a watchdog thread that sees it stop takes the loop
thread's Python stack, and when the loop beats again one log line says how long it stalled,
where it was, and how the kernel saw the loop thread meanwhile (Linux): running, waiting for a
CPU, or neither (waiting for the GIL, a lock or a page fault).

:class:`StallDetector` is the sans-I/O core (the caller passes ``now``); :class:`StallWatch`
runs it on a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bridge.logging import get_logger

log = get_logger(__name__)

STACK_FRAMES = 8  # innermost frames kept: enough to name the culprit, short enough for a log


@dataclass(frozen=True)
class CpuTimes:
    """A thread's time on a CPU and waiting for one (``/proc/.../schedstat``), seconds."""

    running_s: float
    runnable_s: float

    def __sub__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(self.running_s - other.running_s, self.runnable_s - other.runnable_s)


@dataclass
class Stall:
    """A stall under way (``ended_at`` None) or over."""

    started_at: float  # the last heartbeat before it
    stack: list[str] = field(default_factory=list)
    ended_at: float | None = None
    # The loop thread's CPU times over a window around the stall: from the watchdog's last
    # look before it to its first look after it (``window_s`` long).
    cpu: CpuTimes | None = None
    window_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return (self.ended_at or self.started_at) - self.started_at

    def fields(self) -> dict[str, object]:
        """What the log line carries."""
        out: dict[str, object] = {"stalled_ms": round(1000 * self.duration_s)}
        if self.cpu is not None:
            out["window_ms"] = round(1000 * self.window_s)
            out["running_ms"] = round(1000 * self.cpu.running_s)
            out["waiting_for_cpu_ms"] = round(1000 * self.cpu.runnable_s)
            off = self.window_s - self.cpu.running_s - self.cpu.runnable_s
            out["off_cpu_ms"] = max(0, round(1000 * off))  # the GIL, a lock, a page fault
        out["stack"] = " <- ".join(reversed(self.stack)) or "?"
        return out


class StallDetector:
    """Heartbeats in, stalls out. ``threshold_s``: a heartbeat older than this is a stall."""

    def __init__(self, threshold_s: float) -> None:
        self.threshold_s = threshold_s
        self.last_beat: float | None = None
        self.current: Stall | None = None

    def beat(self, now: float) -> None:
        self.last_beat = now

    def check(self, now: float) -> tuple[Stall | None, Stall | None]:
        """(a stall that has just begun, a stall that has just ended); either may be None."""
        if self.last_beat is None:
            return None, None
        if self.current is not None:
            if self.last_beat > self.current.started_at:
                ended, self.current = self.current, None
                ended.ended_at = self.last_beat
                return None, ended
            return None, None
        if now - self.last_beat > self.threshold_s:
            self.current = Stall(started_at=self.last_beat)
            return self.current, None
        return None, None


def cpu_times(native_id: int) -> CpuTimes | None:
    """A thread's CPU times from the kernel's scheduler statistics; None off Linux."""
    try:
        running, runnable, *_ = Path(f"/proc/self/task/{native_id}/schedstat").read_text().split()
    except (OSError, ValueError):
        return None
    return CpuTimes(int(running) / 1e9, int(runnable) / 1e9)


def thread_stack(ident: int) -> list[str]:
    """The innermost frames of a thread's Python stack, ``file:line function`` each."""
    frame = sys._current_frames().get(ident)
    if frame is None:
        return []
    frames = traceback.extract_stack(frame)[-STACK_FRAMES:]
    return [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames]


class StallWatch:
    """Watch the running loop from a thread; log each stall longer than ``threshold_s``."""

    def __init__(
        self,
        threshold_s: float,
        report: Callable[[Stall], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.detector = StallDetector(threshold_s)
        self.report = report or (lambda stall: log.warning("event_loop_stalled", **stall.fields()))
        self.clock = clock
        self.tick_s = threshold_s / 4
        self._stop = threading.Event()
        self._before: tuple[float, CpuTimes | None] = (clock(), None)  # the last calm look

    async def run(self) -> None:
        """Beat until cancelled, with the watchdog thread running alongside."""
        ident, native_id = threading.get_ident(), threading.get_native_id()
        self.detector.beat(self.clock())
        thread = threading.Thread(
            target=self._watch, args=(ident, native_id), name="stall-watch", daemon=True
        )
        thread.start()
        try:
            while True:
                await asyncio.sleep(self.tick_s)
                self.detector.beat(self.clock())
        finally:
            self._stop.set()
            await asyncio.to_thread(thread.join)

    def _watch(self, ident: int, native_id: int) -> None:
        while not self._stop.wait(self.tick_s):
            now = self.clock()
            begun, ended = self.detector.check(now)
            if begun is not None:
                begun.stack = thread_stack(ident)
            if self.detector.current is not None:
                continue
            cpu = cpu_times(native_id)
            if ended is not None:
                since, before = self._before
                if cpu is not None and before is not None:
                    ended.cpu, ended.window_s = cpu - before, now - since
                with contextlib.suppress(Exception):  # a report must never end the watch
                    self.report(ended)
            self._before = (now, cpu)
