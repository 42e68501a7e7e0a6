"""CPU threads for inference: how many one run gets, the names the OS shows for them, and
their priority.

The model threads (speech recognition, synthesis, the end-of-turn model) run ``nice`` steps
below the event loop (``BRIDGE_INFERENCE_NICE``, 10 by default). The loop paces every call's
audio in 20 ms frames and a reply's synthesis takes hundreds of milliseconds of CPU: on a
busy machine, a frame that waits for a core behind a model run reaches the caller late, while
a model run that waits a few milliseconds for a frame costs nothing audible. At nice 10 a
thread gets a tenth of the CPU a nice-0 thread gets when both want the same core, and all of
it when the loop is idle. Nice is per thread on Linux, and threads inherit their creator's:
the engines are loaded on a thread of their own at that priority, so the threads the libraries
start while loading (CTranslate2's workers, onnxruntime's pools) run at it too.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import sys
import threading
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


_model_nice = 0  # set once, when the engines are loaded (see set_model_nice)


def lower_priority(nice: int) -> None:
    """Raise the calling thread's nice value to ``nice`` (never lower it, which needs
    privileges). Linux only: elsewhere nice is per process, and this is a no-op."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    if os.getpriority(os.PRIO_PROCESS, thread) < nice:
        os.setpriority(os.PRIO_PROCESS, thread, min(nice, 19))


def set_model_nice(nice: int) -> None:
    """Run the calling thread (the engines' loader) and every model worker started from now
    on at ``nice``."""
    global _model_nice
    _model_nice = nice
    lower_priority(nice)


def model_thread(name: str) -> None:
    """The initializer of a model's worker threads: their OS name and the models' priority."""
    name_thread(name)
    lower_priority(_model_nice)


@contextlib.contextmanager
def threads_named(name: str) -> Iterator[None]:
    """Threads a library starts inside this block (CTranslate2's workers) inherit ``name``."""
    before = thread_name()
    name_thread(name)
    try:
        yield
    finally:
        name_thread(before)
