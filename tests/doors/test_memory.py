"""What the process's memory is made of: figures that tell a leak from allocator noise."""

from __future__ import annotations

import tracemalloc

from bridge.doors.memory import memory


def test_memory_in_use_grows_with_what_is_held_and_falls_when_it_is_freed() -> None:
    before = memory()
    held = [bytes(1 << 20) for _ in range(32)]  # 32 MB through malloc
    during = memory()
    del held
    after = memory()
    assert during["malloc_in_use_mb"] - before["malloc_in_use_mb"] >= 30
    assert during["malloc_in_use_mb"] - after["malloc_in_use_mb"] >= 30
    assert before["anon_mb"] > 0
    assert before["threads"] >= 1


def test_python_blocks_count_small_objects() -> None:
    before = memory()["python_blocks"]
    held = [object() for _ in range(50_000)]
    assert memory()["python_blocks"] - before >= 50_000
    del held


def test_traced_memory_shows_only_while_tracemalloc_is_on() -> None:
    assert "traced_mb" not in memory()
    tracemalloc.start()
    try:
        held = bytes(4 << 20)
        assert memory()["traced_mb"] >= 4
        del held
    finally:
        tracemalloc.stop()
    assert "traced_mb" not in memory()
