"""Loading the engines for a server: the models run below the event loop's priority (the VAD
and the loop do not), and what loading left is frozen out of the garbage collector."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from pathlib import Path

import pytest

from bridge.config import Settings
from bridge.pipeline.engines import load_engines_async

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice is per thread on Linux"),
]


def _threads() -> set[str]:
    return {task.name for task in Path("/proc/self/task").iterdir()}


def _nice_by_thread_name(skip: set[str]) -> dict[str, set[int]]:
    """Nice values by thread name, of the threads not in ``skip`` (other tests' engines live
    on in this process, at their own priority)."""
    by_name: dict[str, set[int]] = {}
    for task in Path("/proc/self/task").iterdir():
        if task.name in skip:
            continue
        try:
            name = (task / "comm").read_text().strip()
            nice = os.getpriority(os.PRIO_PROCESS, int(task.name))
        except OSError:  # the thread ended meanwhile
            continue
        by_name.setdefault(name, set()).add(nice)
    return by_name


async def test_loading_lowers_the_models_priority_and_freezes_what_it_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bridge.pipeline.cpu._model_nice", 0)  # restored for later tests
    loop_nice = os.getpriority(os.PRIO_PROCESS, 0)
    earlier = _threads()
    engines = await load_engines_async(Settings(api_keys=[], inference_nice=9))
    frozen = gc.get_freeze_count()
    gc.unfreeze()  # the rest of the suite's objects are collected as usual
    assert frozen > 10_000  # the models' and modules' objects: a full collection skips them
    try:
        # Each engine's worker threads start on first use.
        await engines.stt.transcribe(bytes(32_000))
        async for _ in engines.tts.stream("Hello there."):
            pass
        assert engines.turn is not None
        await engines.turn.complete_probability(bytes(32_000), 16_000)
        await asyncio.get_running_loop().run_in_executor(engines.vad.executor, lambda: None)
        threads = _nice_by_thread_name(skip=earlier)
        for model in ("stt", "tts", "turn"):
            assert threads[model] == {9}, (model, threads)
        assert threads["vad"] == {loop_nice}
        assert os.getpriority(os.PRIO_PROCESS, 0) == loop_nice  # the event loop's own thread
    finally:
        await engines.close()
