"""CPU threads for inference: how many one run gets, and names the OS shows for them."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import sys
from collections.abc import Callable, Iterator


def threads_per_run(configured: int = 0) -> int:
    """``configured`` when set, else half the cores (at most 4, at least 1).

    Measured on a 2-core machine with tiny.en and Piper: one thread per run uses about 25 %
    less CPU than two and is no slower (tiny.en) or 50 ms slower per clause (Piper), because a
    short run's ops are too small to split, and the other core serves the other calls and the
    event loop. Bigger machines get a few threads for bigger models.
    """
    if configured > 0:
        return configured
    return max(1, min(4, (os.cpu_count() or 2) // 2))


_PR_SET_NAME, _PR_GET_NAME = 15, 16


@functools.cache
def linux_libc_function(name: str) -> Callable[..., int] | None:
    """A function of the C library on Linux (``prctl``, ``malloc_trim``); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL(ctypes.util.find_library("c")), name)
    except (OSError, AttributeError):  # not glibc-like (musl has no malloc_trim)
        return None
    return function


def _prctl() -> Callable[..., int] | None:
    return linux_libc_function("prctl")


def name_thread(name: str) -> None:
    """Give the calling thread an OS-level name (``top -H``, ``/proc/<pid>/task/*/comm``), so
    the CPU each engine uses can be told apart. Best effort: a no-op off Linux."""
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def thread_name() -> str:
    prctl = _prctl()
    if prctl is None:
        return ""
    buffer = ctypes.create_string_buffer(16)
    prctl(_PR_GET_NAME, buffer, 0, 0, 0)
    return buffer.value.decode(errors="replace")


@contextlib.contextmanager
def threads_named(name: str) -> Iterator[None]:
    """Threads a library starts inside this block (CTranslate2's workers) inherit ``name``."""
    before = thread_name()
    name_thread(name)
    try:
        yield
    finally:
        name_thread(before)
