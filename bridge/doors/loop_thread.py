"""How the event loop's thread spends its time: running, or ready to run but waiting for a CPU.

Event-loop lag has two causes that look the same from inside the loop: the loop's own work
(a callback that runs too long) and other processes taking the CPUs (a shared or overloaded
machine). Linux tells them apart: ``/proc/self/task/<tid>/schedstat`` counts the nanoseconds a
thread ran and the nanoseconds it sat runnable on a run queue. ``bridge bench --soak`` reports
both as fractions of the wall time under load: lag with a high waiting fraction is the machine;
lag with the thread near 100 % busy is the bridge.
"""

from __future__ import annotations

import threading

from bridge.stalls import cpu_times


def loop_thread_times() -> dict[str, float] | None:
    """Seconds the main thread (where ``bridge serve`` runs its event loop) has run and has
    waited runnable for a CPU; None where schedstat is missing."""
    tid = threading.main_thread().native_id
    times = cpu_times(tid) if tid is not None else None
    if times is None:
        return None
    return {"cpu_s": round(times.running_s, 3), "waiting_s": round(times.runnable_s, 3)}
