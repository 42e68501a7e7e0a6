"""The uvicorn server ``bridge serve`` runs."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import uvicorn

from bridge.logging import get_logger

log = get_logger("bridge")


class GracefulServer(uvicorn.Server):
    """uvicorn, except that a shutdown asked for with SIGTERM or Ctrl-C ends with status 0.

    uvicorn re-raises the signal once it has shut down, so the process dies of it; under
    ``make run`` that reads ``make: *** [Makefile: run] Terminated`` after a clean stop. A
    stop that was asked for and went well is a success."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)
        if self.should_exit:
            log.info("stopped")
