"""Full garbage collections, small and often, at the event loop's pace.

An ended call is not freed when it ends: its objects are held in cycles (the call and the
callbacks it hands its parts; uvicorn's protocol and transport), which only a full collection
frees. Python starts one when the oldest generation has grown by a quarter, and with 60 calls
on two cores that came every 20 s or so and walked 50,000-70,000 objects, half of them ended
calls: 100-300 ms in which no call's audio moved (the soak's late frames, found with
``BRIDGE_LOOP_STALL_MS``). Here a full collection runs every 5 s instead, and walks the live
calls and the dozen that ended since the last one. What it costs is walking the live calls'
objects, about 40 ms with 60 calls on a busy 2-core machine, whatever the interval: once a
second, that was a stall a second and more of them late.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

INTERVAL_S = 5.0
NEVER = 1 << 30  # a full-collection threshold that is never reached

_running = 0  # collectors running in this process (tests run several bridges at once)
_python_oldest = 0  # Python's own full-collection threshold, given back by the last one


async def collect_often(
    interval_s: float = INTERVAL_S, collected: Callable[[float], None] | None = None
) -> None:
    """Until cancelled: a full collection every ``interval_s``, and none in between (the
    younger generations are still collected as Python sees fit). ``collected`` is told how
    long each took."""
    global _running, _python_oldest
    young, middle, oldest = gc.get_threshold()
    if _running == 0:
        _python_oldest = oldest
    _running += 1
    gc.set_threshold(young, middle, NEVER)
    try:
        while True:
            await asyncio.sleep(interval_s)
            started = time.perf_counter()
            gc.collect()
            if collected is not None:
                collected(time.perf_counter() - started)
    finally:
        _running -= 1
        if _running == 0:
            young, middle, _ = gc.get_threshold()
            gc.set_threshold(young, middle, _python_oldest)
