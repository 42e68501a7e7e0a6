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

from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bridge.doors.admission import Refused, Ticket
from bridge.doors.client_secrets import api_error as _error
from bridge.doors.client_secrets import beta_sessions, ga_client_secrets
from bridge.doors.webrtc_realtime import sideband
from bridge.engine import errors
from bridge.engine import events as ev
from bridge.engine.config import InputTranscription, SessionConfig
from bridge.engine.errors import CommandError
from bridge.engine.session import LocalConversation
from bridge.logging import bind_call, get_logger
from bridge.observe import annotate, observing, span
from bridge.realtime.auth import SUBPROTOCOL_KEY_PREFIX, Grant, credential_from
from bridge.realtime.dialect import Dialect, detect_dialect
from bridge.realtime.server import ServerConnection
from bridge.realtime.session_config import apply_update
from bridge.runtime import Runtime, runtime_of

log = get_logger("bridge.realtime")


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
    call_id = websocket.query_params.get("call_id")
    if call_id:  # a sideband connection to a WebRTC call
        await sideband(websocket, call_id)
        return
    runtime = runtime_of(websocket)
    offered = list(websocket.scope.get("subprotocols", []))
    grant = runtime.keys.check(credential_from(websocket.headers, websocket.query_params, offered))
    if grant is None:
        await websocket.send_denial_response(
            _error(
                401, "Incorrect or missing API key for the realtime endpoint.", "invalid_api_key"
            )
        )
        return
    ticket = runtime.admission.admit("realtime")
    if isinstance(ticket, Refused):
        code = {"loading": "not_ready", "full": "session_limit", "draining": "draining"}
        denial = _error(
            ticket.http_status, ticket.message, code[ticket.reason], errors.SERVER_ERROR
        )
        denial.headers.update(ticket.headers)
        await websocket.send_denial_response(denial)
        return
    with (
        ticket,
        observing(runtime.observer),
        span("realtime.session", **{"bridge.door": "realtime"}),
    ):
        await _serve(websocket, runtime, offered, grant, ticket)


async def _serve(
    websocket: WebSocket, runtime: Runtime, offered: list[str], grant: Grant, ticket: Ticket
) -> None:
    settings = runtime.settings

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
        dialect,
        outgoing.put_nowait,
        max_message_bytes=settings.max_message_bytes,
        max_json_depth=settings.max_json_depth,
    )
    session = LocalConversation(
        engines=ticket.engines, settings=settings.conversation, emit=connection.send, config=config
    )
    annotate(**{"bridge.session_id": session.id, "gen_ai.request.model": config.model})
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


def realtime_routes() -> list[BaseRoute]:
    return [
        WebSocketRoute("/v1/realtime", realtime_websocket),
        Route("/v1/realtime/sessions", beta_sessions, methods=["POST"]),
        Route("/v1/realtime/client_secrets", ga_client_secrets, methods=["POST"]),
    ]
