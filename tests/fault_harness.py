"""Fault-injection scenarios on fake engines in real time: a faulty call beside a control
call on the same engines, and checks that the control call kept its audio and that nothing
the faulty call held outlives it.

A module beside the root ``conftest.py`` (not a ``conftest.py`` of its own, which would shadow
that one), like ``call_harness``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from call_harness import RATE, Line

CONTROL_REPLY = (
    "This is the control call, and it keeps talking for a few seconds without a single pause, "
    "whatever happens to the other call next door."
)
STALL_MS = 300
STEP_S = 0.01  # how often a real-time condition is checked


async def until_true(condition: Callable[[], bool], within_s: float, what: str) -> None:
    """Wait (real time) until ``condition()`` holds; fail after ``within_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while loop.time() < deadline:
        if condition():
            return
        await asyncio.sleep(STEP_S)
    raise AssertionError(f"{what}: still not the case after {within_s} s")


def gaps_ms(line: Line) -> list[float]:
    """Each time the control phone's playback ran dry while more audio was still to come, by
    how long (ms): a call that keeps its audio has none worth the name."""
    gaps: list[float] = []
    end = None
    for sent in line.phone.of("media"):
        if end is not None and sent.at > end:
            gaps.append((sent.at - end) * 1000)
        end = max(end or sent.at, sent.at) + len(sent.value) / RATE
    return gaps


def assert_kept_its_audio(control: Line, reply_ms: int) -> None:
    """The control call heard its whole reply, without its playback running dry for longer
    than scheduling jitter on a busy shared machine (STALL_MS); a fault that held the event
    loop or the shared engines would stall it for the LLM timeout (a second) or for good."""
    heard_ms = len(control.phone.audio()) * 1000 / RATE
    assert heard_ms >= reply_ms * 0.95, (heard_ms, reply_ms)
    late = [gap for gap in gaps_ms(control) if gap > STALL_MS]
    assert not late, f"the control call's audio stalled: {late}"
