"""What the app shares between requests: settings, the engines once loaded, admission, and
the live calls."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from starlette.requests import HTTPConnection

from bridge.config import Settings
from bridge.dialplan.calls import call_flow, llm_available
from bridge.dialplan.routing import DialplanRouter
from bridge.doors.admission import Admission
from bridge.doors.drain import drain
from bridge.doors.live import LiveCalls
from bridge.doors.webrtc_call import WebRTCCalls
from bridge.logging import get_logger
from bridge.metrics import Metrics
from bridge.observe import Observer, fan_out
from bridge.pipeline.engines import Engines, create_llm, load_engines_async
from bridge.realtime.auth import KeyStore
from bridge.tracing import tracing_from

if TYPE_CHECKING:
    from bridge.sip.server import SipServer

log = get_logger("bridge.app")


class Runtime:
    """What the app shares between requests: settings and the engines once they are loaded."""

    def __init__(
        self,
        settings: Settings,
        engines: Engines | None = None,
        loader: Callable[[Settings], Awaitable[Engines]] = load_engines_async,
    ) -> None:
        self.settings = settings
        self.engines = engines
        self.keys = KeyStore(settings.api_keys)
        self.admission = Admission(settings.max_calls, lambda: self.engines)
        self.metrics = Metrics(self.admission, self._models)
        self.admission.observers.append(self.metrics)
        self.tracing = tracing_from(settings.otlp_endpoint)  # raises TracingUnavailable
        self.observer: Observer | None = fan_out(self.metrics, self.tracing)  # what calls report to
        self.audiosocket_port: int | None = None  # bound port, once listening
        self.sip: SipServer | None = None  # the SIP user agent, when BRIDGE_SIP_PORT is set
        self.calls = LiveCalls()
        self.webrtc = WebRTCCalls()  # realtime calls over WebRTC, by rtc_ id
        self.router = DialplanRouter.from_settings(settings)  # raises DialplanInvalid
        self.call_flow = call_flow(self.router, settings)
        self._load_engines = loader
        self.load_error: str | None = None
        self._loader: asyncio.Task[None] | None = None
        self._drain: asyncio.Task[None] | None = None
        self.cut_by_drain: weakref.WeakSet[Any] = weakref.WeakSet()  # calls drain hung up

    @property
    def sessions(self) -> int:
        """Live realtime sessions and calls, from every door."""
        return self.admission.total

    @property
    def ready(self) -> bool:
        return self.engines is not None

    def _models(self) -> dict[str, str] | None:
        """The loaded models and their devices (the ``bridge_model_info`` labels)."""
        if self.engines is None:
            return None
        settings = self.settings
        return {
            "stt_model": settings.stt_model,
            "stt_device": str(getattr(self.engines.stt, "device", "unknown")),
            "tts_backend": settings.tts_backend,
            "llm_model": "canned" if settings.llm_backend == "canned" else settings.llm_model,
        }

    @property
    def draining(self) -> bool:
        """Set once draining starts (SIGTERM or POST /drain): no new calls from then on."""
        return self.admission.draining

    def start_draining(self) -> asyncio.Task[None]:
        """Start draining (once); the task ends when every call and session has ended."""
        if self._drain is None:
            self.admission.draining = True  # at once, before the task first runs
            self._drain = asyncio.create_task(drain(self))
        return self._drain

    def start_loading(self) -> None:
        if self.engines is None and self._loader is None:
            self._loader = asyncio.create_task(self._load())

    async def wait_loaded(self) -> None:
        """Wait for loading to finish, successfully or not."""
        if self._loader is not None:
            await asyncio.shield(self._loader)

    async def _load(self) -> None:
        log.info("loading models", stt=self.settings.stt_model, tts=self.settings.tts_voice)
        try:
            self.engines = await self._load_engines(self.settings)
        except Exception as exc:
            self.load_error = str(exc)
            log.error("model loading failed", error=self.load_error)
            return
        log.info("ready", load_s=round(self.engines.load_s, 2), stt_device=self.engines.stt.device)

    async def check_llm(self) -> None:
        """Say in one start-up line which LLM answers calls, and whether it answers."""
        settings = self.settings
        if settings.llm_backend == "canned":
            log.warning(
                "LLM: canned replies, not a language model (BRIDGE_LLM_BACKEND=canned): "
                "the agent answers a few questions from a fixed list"
            )
            return
        endpoint, model = settings.llm_base_url, settings.llm_model
        if not llm_available(settings):
            log.warning(
                "no LLM configured: set OPENAI_BASE_URL (and OPENAI_API_KEY if it needs one), "
                "or BRIDGE_LLM_BACKEND=canned for canned replies offline",
                endpoint=endpoint,
                model=model,
            )
            return
        llm = create_llm(settings)
        try:
            answers, detail = await llm.probe()
        finally:
            await llm.close()
        if answers:
            log.info(f"LLM endpoint {detail}", endpoint=endpoint, model=model)
        else:
            log.warning(
                "LLM endpoint does not answer (calls will hear the fallback message until it does)",
                endpoint=endpoint,
                model=model,
                error=detail,
            )

    async def close(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.cancel()
        if self._loader is not None:
            self._loader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loader
        if self.engines is not None:
            await self.engines.close()
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.close)  # exports the spans still buffered


def runtime_of(connection: HTTPConnection) -> Runtime:
    """The runtime behind a request or WebSocket (``create_app`` puts it on the app)."""
    return cast(Runtime, connection.app.state.runtime)
