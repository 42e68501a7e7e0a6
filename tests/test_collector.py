"""Full garbage collections paced by the bridge: one per interval, none in between."""

import asyncio
import gc
import weakref

from bridge.collector import NEVER, collect_often


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only a collection frees it


async def test_garbage_cycles_are_freed_by_the_paced_collection_and_only_by_it() -> None:
    before = gc.get_threshold()
    durations: list[float] = []
    collected = asyncio.Event()

    def note(seconds: float) -> None:
        durations.append(seconds)
        collected.set()

    task = asyncio.create_task(collect_often(0.05, note))
    await asyncio.sleep(0)  # the task has started: automatic full collections are off
    assert gc.get_threshold() == (*before[:2], NEVER)
    gc.disable()  # nor may a young-generation collection free the cycle: only the pacer
    try:
        garbage = weakref.ref(Node())
        assert garbage() is not None  # a cycle outlives its last reference
        async with asyncio.timeout(5):
            await collected.wait()
        assert garbage() is None
    finally:
        gc.enable()
    assert durations[0] >= 0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert gc.get_threshold() == before  # Python's own schedule is back


async def test_python_gets_its_schedule_back_when_the_last_of_several_collectors_ends() -> None:
    before = gc.get_threshold()
    first = asyncio.create_task(collect_often(60))
    await asyncio.sleep(0)
    second = asyncio.create_task(collect_often(60))  # a second bridge in the same process
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert gc.get_threshold()[2] == NEVER  # the second still collects on its own schedule
    second.cancel()
    await asyncio.gather(second, return_exceptions=True)
    assert gc.get_threshold() == before
