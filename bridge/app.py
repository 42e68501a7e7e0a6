"""The HTTP/WebSocket application: health, readiness, model list, and the front doors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bridge.calls.audiosocket_server import start_audiosocket_server
from bridge.calls.live import LiveCalls
from bridge.calls.routes import call_routes
from bridge.config import Settings
from bridge.dialplan.calls import call_flow
from bridge.dialplan.routing import DialplanRouter
from bridge.logging import get_logger
from bridge.pipeline.engines import Engines, load_engines_async
from bridge.realtime.auth import KeyStore
from bridge.realtime.endpoint import realtime_routes
from bridge.sip.routes import sip_routes
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
        self.sessions = 0  # live realtime sessions and calls
        self.audiosocket_port: int | None = None  # bound port, once listening
        self.sip: SipServer | None = None  # the SIP user agent, when BRIDGE_SIP_PORT is set
        self.calls = LiveCalls()
        self.router = DialplanRouter.from_settings(settings)  # raises DialplanInvalid
        self.call_flow = call_flow(self.router, settings)
        self._load_engines = loader
        self.load_error: str | None = None
        self._loader: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self.engines is not None

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

    async def close(self) -> None:
        if self._loader is not None:
            self._loader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loader
        if self.engines is not None:
            await self.engines.close()


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    if runtime.ready:
        return JSONResponse({"status": "ready"})
    if runtime.load_error:
        return JSONResponse({"status": "failed", "error": runtime.load_error}, status_code=503)
    return JSONResponse({"status": "loading"}, status_code=503)


async def list_models(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.runtime.settings
    entries = [
        (settings.llm_model, "llm"),
        (settings.stt_model, "stt"),
        (settings.tts_voice if settings.tts_backend == "piper" else settings.tts_model, "tts"),
    ]
    data: list[dict[str, Any]] = [
        {"id": model_id, "object": "model", "created": 0, "owned_by": f"voice-bridge:{kind}"}
        for model_id, kind in entries
        if model_id
    ]
    return JSONResponse({"object": "list", "data": data})


def create_app(
    settings: Settings,
    engines: Engines | None = None,
    loader: Callable[[Settings], Awaitable[Engines]] = load_engines_async,
) -> Starlette:
    """Build the app. Pass ``engines`` to share already-loaded models (tests do)."""
    runtime = Runtime(settings, engines, loader)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime.start_loading()
        audiosocket = None
        if settings.audiosocket_port is not None:
            audiosocket = await start_audiosocket_server(
                runtime, settings.host, settings.audiosocket_port
            )
        sip = None
        if settings.sip_port is not None:
            sip = SipServer(runtime, settings)
            await sip.start()
            runtime.sip = sip
        try:
            yield
        finally:
            if sip is not None:
                await sip.stop()
            if audiosocket is not None:
                audiosocket.close()
                await audiosocket.wait_closed()
            # Engines handed in by the caller belong to the caller.
            if engines is None:
                await runtime.close()

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/v1/models", list_models),
            *realtime_routes(),
            *call_routes(),
            *sip_routes(),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
