"""Threads per inference run, and OS thread names the bench reads CPU by."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from bridge.pipeline.cpu import (
    lower_priority,
    model_thread,
    name_thread,
    thread_name,
    threads_named,
    threads_per_run,
)


def test_a_configured_thread_count_wins_and_auto_is_half_the_cores_within_1_to_4(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert threads_per_run(3) == 3
    for cores, expected in ((1, 1), (2, 1), (4, 2), (8, 4), (64, 4)):
        monkeypatch.setattr("os.cpu_count", lambda cores=cores: cores)
        assert threads_per_run(0) == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread names are Linux-only")
def test_threads_started_in_a_named_block_carry_the_name() -> None:
    def comm(tid: int) -> str:
        return Path(f"/proc/self/task/{tid}/comm").read_text().strip()

    seen: list[int] = []
    started = threading.Event()
    release = threading.Event()

    def worker() -> None:
        seen.append(threading.get_native_id())
        started.set()
        release.wait(10)

    before = thread_name()
    with threads_named("stt"):
        thread = threading.Thread(target=worker)
        thread.start()
    started.wait(10)
    try:
        assert comm(seen[0]) == "stt"  # inherited from the block, as CTranslate2's workers do
        assert thread_name() == before  # the block's own thread got its name back
    finally:
        release.set()
        thread.join()
    name_thread("a-name-longer-than-fifteen")
    assert comm(threading.get_native_id()) == "a-name-longer-t"  # the kernel keeps 15 bytes
    name_thread(before)


def thread_id() -> int:
    return threading.get_native_id()


def _nice_of(thread: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, thread)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice is per thread on Linux")
def test_a_model_thread_runs_below_the_loop_and_its_priority_only_ever_drops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bridge.pipeline.cpu._model_nice", 7)
    seen: dict[str, int] = {}

    def worker() -> None:
        model_thread("stt")
        seen["after"] = _nice_of(threading.get_native_id())
        lower_priority(3)  # asked for less than it has: unchanged (raising it needs privileges)
        seen["lower asked"] = _nice_of(threading.get_native_id())
        child = threading.Thread(target=lambda: seen.update(child=_nice_of(thread_id())))
        child.start()  # what a library starts from a model thread inherits its priority
        child.join()

    loop_nice = _nice_of(threading.get_native_id())
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == {"after": 7, "lower asked": 7, "child": 7}
    assert _nice_of(threading.get_native_id()) == loop_nice  # the calling thread is untouched
    assert os.getpriority(os.PRIO_PROCESS, 0) == loop_nice
