"""The HTTP/WebSocket application: health, readiness, model list, and the front doors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.collector import collect_often
from bridge.config import Settings
from bridge.doors.admission import RETRY_AFTER_S
from bridge.doors.audiosocket import start_audiosocket_server
from bridge.doors.carriers import call_routes
from bridge.doors.cors import realtime_cors
from bridge.doors.realtime_ws import realtime_routes
from bridge.doors.sip_rest import sip_routes
from bridge.doors.softphone import end_softphone_calls, softphone_routes
from bridge.doors.status import status_routes
from bridge.doors.webrtc_realtime import webrtc_routes
from bridge.logging import get_logger
from bridge.metrics import CONTENT_TYPE
from bridge.pipeline.engines import Engines, load_engines_async
from bridge.realtime.auth import credential_from
from bridge.runtime import Runtime, runtime_of
from bridge.sip.server import SipServer
from bridge.stalls import StallWatch

log = get_logger("bridge.app")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """200 only while the bridge takes calls; 503 ``loading``, ``failed``, ``full`` or
    ``draining`` otherwise (a load balancer sends new calls elsewhere)."""
    runtime = runtime_of(request)
    state = runtime.admission.state
    if state == "ready":
        engines = runtime.engines
        devices = engines.devices() if engines is not None else {}
        return JSONResponse({"status": "ready", "devices": devices})
    if state == "loading" and runtime.load_error:
        return JSONResponse({"status": "failed", "error": runtime.load_error}, status_code=503)
    body: dict[str, Any] = {"status": state}
    if state != "loading":
        body["live"] = runtime.admission.total
    return JSONResponse(
        body,
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S[state])},
    )


async def drain(request: Request) -> JSONResponse:
    """``POST /drain``: stop taking calls and let the live ones finish (see
    :mod:`bridge.doors.drain`). The process keeps running; SIGTERM ends it."""
    runtime = runtime_of(request)
    if runtime.settings.api_keys:
        grant = runtime.keys.check(credential_from(request.headers, request.query_params, []))
        if grant is None or grant.secret is not None:
            return JSONResponse({"error": {"message": "Incorrect or missing API key."}}, 401)
    runtime.start_draining()
    return JSONResponse({"status": "draining", "live": runtime.admission.total}, 202)


async def metrics(request: Request) -> Response:
    return Response(runtime_of(request).metrics.render(), media_type=CONTENT_TYPE)


async def list_models(request: Request) -> JSONResponse:
    """The models this bridge serves; once loaded, the STT and TTS entries say where they run
    (``device``: what ``BRIDGE_STT_DEVICE`` / ``BRIDGE_TTS_DEVICE`` resolved to)."""
    runtime = runtime_of(request)
    settings = runtime.settings
    devices = runtime.engines.devices() if runtime.engines is not None else {}
    llm_model = "canned" if settings.llm_backend == "canned" else settings.llm_model
    entries = [
        (llm_model, "llm"),
        (settings.stt_model, "stt"),
        (settings.tts_voice if settings.tts_backend == "piper" else settings.tts_model, "tts"),
    ]
    data: list[dict[str, Any]] = [
        {
            "id": model_id,
            "object": "model",
            "created": 0,
            "owned_by": f"voice-bridge:{kind}",
            **devices.get(kind, {}),
        }
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
        background = [
            llm_check,
            asyncio.create_task(runtime.metrics.watch_loop()),
            asyncio.create_task(collect_often(collected=runtime.metrics.full_gc.observe)),
        ]
        if settings.loop_stall_ms:
            background.append(asyncio.create_task(StallWatch(settings.loop_stall_ms / 1000).run()))
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
            await end_softphone_calls(app)
            await runtime.webrtc.close_all()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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
            Route("/drain", drain, methods=["POST"]),
            Route("/metrics", metrics),
            Route("/v1/models", list_models),
            *realtime_routes(),
            *webrtc_routes(),
            *call_routes(),
            *sip_routes(),
            *status_routes(),
            *softphone_routes(settings.softphone),
        ],
        lifespan=lifespan,
        middleware=realtime_cors(settings.cors_origins),
    )
    app.state.runtime = runtime
    return app
