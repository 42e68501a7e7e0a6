"""``GET /v1/status``: what the process holds right now, for operators and leak tests.

Live calls and sessions per door (what admission counts), capacity, resident memory and what
it is made of (:mod:`bridge.doors.memory`), open file descriptors, live asyncio tasks, how
the event loop's thread spent its time (:mod:`bridge.doors.loop_thread`) and,
when SIP is on, the SIP legs in progress and the RTP ports bound. Authenticated like the other
``/v1`` endpoints when API keys are set. One function builds the body, so a field
(``draining``, say) is one line more.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.doors.loop_thread import loop_thread_times
from bridge.doors.memory import memory
from bridge.realtime.auth import credential_from
from bridge.runtime import Runtime, runtime_of


def rss_mb() -> float | None:
    """Resident memory of this process, in MB (None where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def open_fds() -> int | None:
    """Open file descriptors of this process (None where /proc is missing)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def status_of(runtime: Runtime) -> dict[str, Any]:
    admission = runtime.admission
    body: dict[str, Any] = {
        "ready": runtime.ready,
        "state": admission.state,  # ready, loading, full or draining (what /readyz says)
        "draining": admission.draining,
        "live": {door: count for door, count in sorted(admission.live.items()) if count},
        "live_total": admission.total,
        "capacity": admission.capacity,
        "calls": len(runtime.calls),
        "rss_mb": rss_mb(),
        "memory": memory(),
        "open_fds": open_fds(),
        "tasks": len(asyncio.all_tasks()),
        "loop_thread": loop_thread_times(),
    }
    if runtime.sip is not None:
        body["sip"] = {
            "legs": len(runtime.sip.legs),
            "rtp_ports": runtime.sip.dialogs.rtp_ports(),
        }
    return body


async def status(request: Request) -> Response:
    runtime = runtime_of(request)
    grant = runtime.keys.check(credential_from(request.headers, request.query_params, []))
    if grant is None or grant.secret is not None:
        return JSONResponse({"error": {"message": "Incorrect or missing API key."}}, 401)
    return JSONResponse(status_of(runtime))


def status_routes() -> list[Route]:
    return [Route("/v1/status", status)]
