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

from bridge.config import Settings
from bridge.doors.audiosocket import start_audiosocket_server
from bridge.doors.carriers import call_routes
from bridge.doors.realtime_ws import realtime_routes
from bridge.doors.sip_rest import sip_routes
from bridge.doors.status import status_routes
from bridge.logging import get_logger
from bridge.pipeline.engines import Engines, load_engines_async
from bridge.runtime import Runtime, runtime_of
from bridge.sip.server import SipServer

log = get_logger("bridge.app")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    if runtime.ready:
        return JSONResponse({"status": "ready"})
    if runtime.load_error:
        return JSONResponse({"status": "failed", "error": runtime.load_error}, status_code=503)
    return JSONResponse({"status": "loading"}, status_code=503)


async def list_models(request: Request) -> JSONResponse:
    settings = runtime_of(request).settings
    llm_model = "canned" if settings.llm_backend == "canned" else settings.llm_model
    entries = [
        (llm_model, "llm"),
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
        llm_check = asyncio.create_task(runtime.check_llm())
        audiosocket = None
        if settings.audiosocket_port is not None:
            audiosocket = await start_audiosocket_server(
                runtime, settings.host, settings.audiosocket_port
            )
        sip = None
        if settings.sip_port is not None:
            sip = SipServer(runtime, settings.sip)
            await sip.start()
            runtime.sip = sip
        try:
            yield
        finally:
            llm_check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await llm_check
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
            *status_routes(),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
