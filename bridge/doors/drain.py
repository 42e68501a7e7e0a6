"""Draining: stop taking calls, let the live ones finish, and end what is left politely.

:func:`drain` is what SIGTERM (``bridge serve``) and ``POST /drain`` start. From its first
moment :class:`~bridge.doors.admission.Admission` refuses everything new (503, reason
``draining``) and ``/readyz`` fails; ``/healthz`` stays green. Live calls and realtime sessions
go on until they end or ``BRIDGE_DRAIN_TIMEOUT_S`` passes; then each call hears
``BRIDGE_DRAIN_GOODBYE`` and is hung up through its own call control (a SIP BYE, the carrier's
REST hang-up or its in-band hang-up frame), and realtime sessions are left to the server's
shutdown, which closes their sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from bridge.calls.call import Call
from bridge.engine import events as ev
from bridge.logging import get_logger

if TYPE_CHECKING:
    from bridge.runtime import Runtime

log = get_logger("bridge.drain")
GOODBYE_TIMEOUT_S = 15.0  # the goodbye's speech and the hang-up, at most


async def drain(runtime: Runtime) -> None:
    """Refuse new calls at once; return when every call and session has ended."""
    admission, settings = runtime.admission, runtime.settings
    admission.draining = True
    log.info("draining", live=admission.total, timeout_s=settings.drain_timeout_s)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(settings.drain_timeout_s):
            await admission.wait_idle()
    if admission.total:
        calls = [call for call in runtime.calls if isinstance(call, Call)]
        log.info("drain timeout: ending the calls left", calls=len(calls), live=admission.total)
        for call in calls:
            runtime.cut_by_drain.add(call)
        await asyncio.gather(*(goodbye(call, settings.drain_goodbye) for call in calls))
        # Realtime sessions (no call to hang up) end when the server closes their sockets.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(GOODBYE_TIMEOUT_S):
                await runtime.calls.wait_empty()
    log.info("drained", live=admission.total)


async def goodbye(call: Call, text: str) -> None:
    """Cut whatever the agent is saying, say ``text``, wait until it has played, and hang up
    through the call's control; close the connection if any of that fails or takes too long."""
    spoken = asyncio.Event()

    def on_event(event: ev.EngineEvent) -> None:
        if isinstance(event, ev.ResponseDone):
            spoken.set()

    try:
        async with asyncio.timeout(GOODBYE_TIMEOUT_S):
            session = call.session
            if session is not None and text:
                await session.interrupt()
                call.hooks.on_event.append(on_event)
                session.say(text)
                await spoken.wait()
                await call.drained()
            await call.control.hangup()
            log.info("hung up a call to finish draining")
    except Exception as exc:  # a failed hang-up: the connection closes all the same
        log.warning("could not end a call politely", error=str(exc) or type(exc).__name__)
        with contextlib.suppress(Exception):
            await call.transport.close()
    finally:
        with contextlib.suppress(ValueError):
            call.hooks.on_event.remove(on_event)
