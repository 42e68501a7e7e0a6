"""The event loop's thread: time running and time waiting for a CPU, from schedstat."""

from __future__ import annotations

import time

from bridge.doors.loop_thread import loop_thread_times


def test_running_on_the_cpu_counts_as_cpu_time() -> None:
    before = loop_thread_times()
    assert before is not None  # Linux
    deadline = time.thread_time() + 0.05
    while time.thread_time() < deadline:  # bounded: 50 ms of this thread's CPU time
        pass
    after = loop_thread_times()
    assert after is not None
    assert after["cpu_s"] - before["cpu_s"] >= 0.04
    assert after["waiting_s"] >= before["waiting_s"]
