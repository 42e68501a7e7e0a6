"""What the process's memory is made of, for telling a leak from allocator noise.

Resident memory (RSS) alone cannot tell them apart: it counts model files the kernel has paged
in (``RssFile``), memory glibc's malloc holds free for reuse (per-thread arenas keep what their
threads freed), and memory really in use. A leak is memory in use that keeps growing; so
``GET /v1/status`` (and ``bridge bench --soak``) report, beside RSS:

- ``anon_mb``: anonymous resident memory (RSS without mapped files);
- ``malloc_in_use_mb`` / ``malloc_free_mb``: what malloc has handed out and what it holds free
  (glibc's ``mallinfo2``; absent elsewhere);
- ``python_blocks``: objects' blocks held by Python's own allocator
  (``sys.getallocatedblocks``);
- ``traced_mb``: memory traced by ``tracemalloc`` when it is on (``PYTHONTRACEMALLOC=1``);
- ``threads``: the process's threads (each can bring a malloc arena of its own).

Every figure is cheap to read (no walk over the heap or over objects).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import tracemalloc
from pathlib import Path
from typing import Any

MB = 1 << 20


_MALLINFO2 = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2.split()]


def _mallinfo2() -> Any:
    """glibc's ``mallinfo2`` (2.33 and later), or None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        function = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    function.restype = _MallInfo2
    function.argtypes = []
    return function


_MALLINFO2_FUNCTION = _mallinfo2()


def proc_status() -> dict[str, int]:
    """The numeric fields of ``/proc/self/status`` this module reads (kB, or a count)."""
    wanted = {"VmRSS", "RssAnon", "RssFile", "Threads"}
    found: dict[str, int] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in wanted:
                found[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return found


def memory() -> dict[str, Any]:
    """The figures above; a figure this platform cannot give is left out."""
    status = proc_status()
    body: dict[str, Any] = {}
    if "RssAnon" in status:
        body["anon_mb"] = round(status["RssAnon"] / 1024, 1)
    if _MALLINFO2_FUNCTION is not None:
        info = _MALLINFO2_FUNCTION()
        body["malloc_in_use_mb"] = round((info.uordblks + info.hblkhd) / MB, 1)
        body["malloc_free_mb"] = round(info.fordblks / MB, 1)
    body["python_blocks"] = sys.getallocatedblocks()
    if tracemalloc.is_tracing():
        body["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / MB, 1)
    if "Threads" in status:
        body["threads"] = status["Threads"]
    return body
