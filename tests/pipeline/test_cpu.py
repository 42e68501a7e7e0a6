"""Threads per inference run, and OS thread names the bench reads CPU by."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from bridge.pipeline.cpu import name_thread, thread_name, threads_named, threads_per_run


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
