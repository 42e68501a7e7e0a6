"""The uvicorn server ``bridge serve`` runs, with the bridge's own SIGTERM handling.

uvicorn, told to stop, closes every WebSocket at once: every call would drop. So the first
SIGTERM or SIGINT does not reach uvicorn: the bridge drains first (no new calls, readiness
fails, live calls go on until they end or ``BRIDGE_DRAIN_TIMEOUT_S`` passes; see
:mod:`bridge.doors.drain`), then tells uvicorn to exit, and the process ends with status 0. A
second signal stops at once.

With ``BRIDGE_TLS_CERT`` and ``BRIDGE_TLS_KEY`` the same server speaks https and wss itself
(:func:`server_config`): browsers give microphones and WebRTC only to secure pages off
localhost, and the openai JS SDK dials only ``wss://``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from bridge.config import Settings
from bridge.logging import get_logger

log = get_logger("bridge")


class TlsFilesMissing(Exception):
    """A TLS certificate or key file that cannot be read; the message names the setting."""


def server_config(app: Any, settings: Settings) -> uvicorn.Config:
    """uvicorn's configuration for ``bridge serve``: plain http/ws, or https/wss with TLS."""
    tls: dict[str, str] = {}
    if settings.tls_cert:
        for key, path in (
            ("BRIDGE_TLS_CERT", settings.tls_cert),
            ("BRIDGE_TLS_KEY", settings.tls_key),
        ):
            if not Path(path).is_file():
                raise TlsFilesMissing(f"{key}: no such file {path!r}")
        tls = {"ssl_certfile": settings.tls_cert, "ssl_keyfile": settings.tls_key}
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our structlog set-up handles uvicorn's loggers too
        ws_max_size=settings.max_message_bytes,
        # Audio frames do not compress; deflating each one cost a third of the event loop at
        # 100 calls.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=10,
        **tls,  # type: ignore[arg-type]
    )


class GracefulServer(uvicorn.Server):
    """uvicorn, except that SIGTERM or Ctrl-C drains first and a stop that was asked for ends
    with status 0.

    uvicorn re-raises the signal once it has shut down, so the process dies of it; under
    ``make run`` that reads ``make: *** [Makefile: run] Terminated`` after a clean stop. A
    stop that was asked for and went well is a success."""

    def __init__(
        self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """``drain``: what to finish before uvicorn shuts down (the runtime's drain)."""
        super().__init__(config)
        self._drain = drain
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signalled = False
        self._draining: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        originals = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)
        if self.should_exit:
            log.info("stopped")

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        name = signal.Signals(sig).name
        if self._signalled or self._drain is None or self._loop is None:
            if self._signalled:
                log.warning(f"{name} again: stopping now, without waiting for calls")
                self.force_exit = True
            self.should_exit = True
            return
        self._signalled = True
        log.info(f"{name}: draining before stopping (send it again to stop at once)")
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        self._draining = asyncio.create_task(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        assert self._drain is not None
        try:
            await self._drain()
        except Exception:
            log.exception("draining failed")
        finally:
            self.should_exit = True
