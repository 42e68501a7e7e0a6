"""The ``/v1/realtime`` front door: WebSocket sessions and client-secret minting.

The WebSocket adapter is thin: authenticate, pick the dialect, then pump frames into
:class:`RealtimeSession` and its rendered events back out. A bad frame becomes an ``error``
event and the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bridge.engine import errors
from bridge.engine import events as ev
from bridge.engine.config import InputTranscription, SessionConfig
from bridge.engine.errors import CommandError
from bridge.engine.session import LocalConversation
from bridge.logging import bind_call, get_logger
from bridge.realtime.auth import SUBPROTOCOL_KEY_PREFIX, credential_from
from bridge.realtime.dialect import Dialect, detect_dialect
from bridge.realtime.server import ServerConnection
from bridge.realtime.session_config import apply_update
from bridge.realtime.session_render import render_session

log = get_logger("bridge.realtime")
BETA_SECRET_TTL_S = 60  # beta client secrets last one minute
GA_SECRET_TTL_S = 600  # GA default expires_after


def _error(
    status: int, message: str, code: str, kind: str = errors.INVALID_REQUEST
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": code, "param": None}},
        status_code=status,
    )


def initial_config(websocket: WebSocket, dialect: Dialect) -> SessionConfig:
    """The session a client gets on connect, from its query (``model``, ``intent``, ...)."""
    query = websocket.query_params
    config = SessionConfig()
    if query.get("model"):
        config = replace(config, model=query["model"])
    if query.get("intent") == "transcription":
        config = replace(
            config,
            kind="transcription",
            output_modalities=("text",),
            input_transcription=InputTranscription(
                model=query.get("transcription_model") or "whisper-1",
                language=query.get("language") or None,
            ),
        )
    return config


async def realtime_websocket(websocket: WebSocket) -> None:
    runtime = websocket.app.state.runtime
    settings = runtime.settings
    offered = list(websocket.scope.get("subprotocols", []))
    grant = runtime.keys.check(credential_from(websocket.headers, websocket.query_params, offered))
    if grant is None:
        await websocket.send_denial_response(
            _error(
                401, "Incorrect or missing API key for the realtime endpoint.", "invalid_api_key"
            )
        )
        return
    if runtime.engines is None:
        await websocket.send_denial_response(
            _error(503, "The bridge is still loading its models.", "not_ready", errors.SERVER_ERROR)
        )
        return
    if runtime.sessions >= settings.max_sessions:
        await websocket.send_denial_response(
            _error(429, f"At most {settings.max_sessions} concurrent sessions.", "session_limit")
        )
        return

    dialect = detect_dialect(websocket.headers, offered)
    config = initial_config(websocket, dialect)
    if grant.secret is not None and grant.secret.session:
        with contextlib.suppress(CommandError):
            config = apply_update(config, grant.secret.session, dialect)
    # Browsers must get one of their offered subprotocols back; never echo the key one.
    chosen = next((p for p in offered if not p.startswith(SUBPROTOCOL_KEY_PREFIX)), None)
    await websocket.accept(subprotocol=chosen)

    outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    connection = ServerConnection(
        dialect, outgoing.put_nowait, max_message_bytes=settings.max_message_bytes
    )
    session = LocalConversation(
        engines=runtime.engines, settings=settings, emit=connection.send, config=config
    )
    runtime.sessions += 1
    with bind_call(session_id=session.id):
        log.info("realtime session started", dialect=dialect.value, model=config.model)
        writer = asyncio.create_task(_write(websocket, outgoing))
        session.start()
        try:
            async with asyncio.timeout(settings.max_session_s):
                await _read(websocket, connection, session)
        except TimeoutError:
            connection.send(
                ev.ErrorEvent(
                    f"Your session hit the maximum duration of {settings.max_session_s:g} s.",
                    code="session_expired",
                )
            )
        finally:
            runtime.sessions -= 1
            await session.close()
            await _drain(outgoing, writer)
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close()
            log.info("realtime session ended")


async def _read(
    websocket: WebSocket, connection: ServerConnection, session: LocalConversation
) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        await connection.receive(
            text if text is not None else bytes(message.get("bytes") or b""), session
        )


async def _write(websocket: WebSocket, outgoing: asyncio.Queue[dict[str, Any]]) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.send_text(json.dumps(await outgoing.get()))
            outgoing.task_done()


async def _drain(outgoing: asyncio.Queue[dict[str, Any]], writer: asyncio.Task[None]) -> None:
    """Let the writer flush what the session said last (its final error), then stop it."""
    if not writer.done():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await outgoing.join()
    writer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writer


async def _session_payload(request: Request) -> dict[str, Any] | Response:
    runtime = request.app.state.runtime
    credential = credential_from(request.headers, request.query_params, [])
    grant = runtime.keys.check(credential)
    if grant is None or grant.secret is not None:  # secrets cannot mint secrets
        return _error(401, "Incorrect or missing API key.", "invalid_api_key")
    try:
        body = await request.json() if await request.body() else {}
    except json.JSONDecodeError:
        return _error(400, "The request body is not valid JSON.", errors.INVALID_JSON)
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object.", errors.INVALID_VALUE)
    return body


async def beta_sessions(request: Request) -> Response:
    """``POST /v1/realtime/sessions``: a beta session object with a ``client_secret``."""
    body = await _session_payload(request)
    if isinstance(body, Response):
        return body
    try:
        config = apply_update(SessionConfig(), body, Dialect.BETA)
    except CommandError as error:
        return _error(400, error.message, error.code)
    secret = request.app.state.runtime.keys.mint(BETA_SECRET_TTL_S, body)
    session = render_session(config, Dialect.BETA, "sess_ephemeral")
    session["client_secret"] = {"value": secret.value, "expires_at": secret.expires_at}
    return JSONResponse(session)


async def ga_client_secrets(request: Request) -> Response:
    """``POST /v1/realtime/client_secrets``: ``{value, expires_at, session}``."""
    body = await _session_payload(request)
    if isinstance(body, Response):
        return body
    expires = body.get("expires_after") or {}
    ttl = expires.get("seconds", GA_SECRET_TTL_S) if isinstance(expires, dict) else GA_SECRET_TTL_S
    if not isinstance(ttl, int) or not 10 <= ttl <= 7200:
        return _error(
            400, "expires_after.seconds must be between 10 and 7200.", errors.INVALID_VALUE
        )
    payload = body.get("session") or {}
    try:
        config = apply_update(SessionConfig(), payload, Dialect.GA)
    except CommandError as error:
        return _error(400, error.message, error.code)
    secret = request.app.state.runtime.keys.mint(ttl, payload)
    return JSONResponse(
        {
            "value": secret.value,
            "expires_at": secret.expires_at,
            "session": render_session(config, Dialect.GA, "sess_ephemeral"),
        }
    )


def realtime_routes() -> list[BaseRoute]:
    return [
        WebSocketRoute("/v1/realtime", realtime_websocket),
        Route("/v1/realtime/sessions", beta_sessions, methods=["POST"]),
        Route("/v1/realtime/client_secrets", ga_client_secrets, methods=["POST"]),
    ]
