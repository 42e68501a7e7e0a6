"""The WebRTC door of ``/v1/realtime``: SDP offers in, answers out, calls controlled over HTTP.

- GA: ``POST /v1/realtime/calls`` (raw ``application/sdp``, or multipart parts ``sdp`` and
  ``session``) → 201, the answer SDP, ``Location: /v1/realtime/calls/rtc_…``.
- Beta: ``POST /v1/realtime?model=…`` with ``application/sdp`` → the answer SDP.
- Control: ``POST /v1/realtime/calls/{id}/accept | reject | refer | hangup``; the sideband
  WebSocket ``/v1/realtime?call_id=rtc_…`` (:func:`sideband`) watches a call and may send any
  client event.

Authentication is the WebSocket door's: a standard key, or an ``ek_`` client secret (whose
session configuration the call starts with) for the offer; control and sideband take a
standard key. Every call is admitted like any other; a call runs as a task owned by
:class:`WebRTCCalls` until hang-up, the peer closing, or the connect watchdog.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import replace
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.websockets import WebSocket, WebSocketDisconnect

from bridge.doors.admission import Refused
from bridge.doors.client_secrets import api_error
from bridge.doors.webrtc_call import RealtimeCall, WebRTCCalls
from bridge.engine import errors
from bridge.engine.config import SessionConfig
from bridge.engine.errors import CommandError
from bridge.json_limits import loads
from bridge.logging import get_logger
from bridge.realtime.auth import Grant, credential_from
from bridge.realtime.dialect import Dialect, detect_dialect
from bridge.realtime.session_config import apply_update
from bridge.runtime import Runtime, runtime_of
from bridge.webrtc import SdpError, check_offer

log = get_logger("bridge.webrtc")
SDP_TYPE = "application/sdp"
ACTIONS = ("accept", "reject", "refer", "hangup")


def calls_of(runtime: Runtime) -> WebRTCCalls:
    return runtime.webrtc


def _grant(request: Request | WebSocket, *, standard_only: bool = False) -> Grant | None:
    runtime = runtime_of(request)
    grant = runtime.keys.check(credential_from(request.headers, request.query_params, []))
    if grant is None or (standard_only and grant.secret is not None):
        return None
    return grant


def _unauthorized() -> JSONResponse:
    return api_error(401, "Incorrect or missing API key.", "invalid_api_key")


async def _offer_and_session(request: Request) -> tuple[str, dict[str, Any] | None] | Response:
    """The offer (and the GA multipart ``session`` part), or the error answer."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limits = runtime_of(request).settings
    if kind == SDP_TYPE:
        raw = await request.body()
        try:
            return raw.decode("utf-8"), None
        except UnicodeDecodeError:
            return api_error(400, "The SDP offer is not UTF-8 text.", "invalid_sdp")
    if kind != "multipart/form-data":
        return api_error(
            415,
            "Send the SDP offer as application/sdp, or multipart/form-data with parts 'sdp' "
            "and 'session'.",
            "unsupported_media_type",
        )
    try:
        form = await request.form(max_files=2, max_fields=4, max_part_size=256 * 1024)
    except Exception:  # starlette raises several kinds for a broken multipart body
        return api_error(400, "The multipart body could not be parsed.", "invalid_request")
    parts = {}
    for name in ("sdp", "session"):
        value = form.get(name)
        if isinstance(value, UploadFile):
            value = (await value.read()).decode("utf-8", "replace")
        parts[name] = value
    if not parts["sdp"]:
        return api_error(400, "The multipart body has no 'sdp' part.", "invalid_sdp")
    session = None
    if parts["session"]:
        try:
            session = loads(str(parts["session"]), max_depth=limits.max_json_depth)
        except ValueError:
            return api_error(400, "The 'session' part is not valid JSON.", errors.INVALID_JSON)
        if not isinstance(session, dict):
            return api_error(400, "The 'session' part must be a JSON object.", "invalid_value")
    return str(parts["sdp"]), session


def _config(grant: Grant, dialect: Dialect, model: str | None, session: Any) -> SessionConfig:
    """The call's session: the query's model, the secret's session (ignored where it does not
    fit this dialect, as on the WebSocket door), then the request's own (raises CommandError)."""
    config = SessionConfig()
    if model:
        config = replace(config, model=model)
    if grant.secret is not None and grant.secret.session:
        with contextlib.suppress(CommandError):
            config = apply_update(config, grant.secret.session, dialect)
    if session:
        config = apply_update(config, session, dialect)
    return config


async def _answer(request: Request, dialect: Dialect) -> Response:
    runtime = runtime_of(request)
    grant = _grant(request)
    if grant is None:
        return _unauthorized()
    parsed = await _offer_and_session(request)
    if isinstance(parsed, Response):
        return parsed
    offer, session = parsed
    try:
        summary = check_offer(offer)
        config = _config(grant, dialect, request.query_params.get("model"), session)
    except SdpError as error:
        return api_error(400, str(error), "invalid_sdp")
    except CommandError as error:
        return api_error(400, error.message, error.code)
    ticket = runtime.admission.admit("realtime")
    if isinstance(ticket, Refused):
        denial = api_error(503, ticket.message, ticket.reason, errors.SERVER_ERROR)
        denial.headers.update(ticket.headers)
        return denial
    calls = calls_of(runtime)
    call = RealtimeCall(
        engines=ticket.engines,
        settings=runtime.settings,
        dialect=dialect,
        config=config,
        peers=calls.peers,
    )
    try:
        answer = await call.answer(offer, max_message_size=summary.max_message_size)
    except Exception as exc:  # aiortc refused what the checks let through
        await call.hangup()
        ticket.release()
        log.warning("webrtc offer refused by aiortc", error=repr(exc))
        return api_error(400, f"The SDP offer could not be answered: {exc}", "invalid_sdp")
    calls.start(call, ticket, runtime.observer)
    location = f"/v1/realtime/calls/{call.id}"
    return Response(answer, status_code=201, media_type=SDP_TYPE, headers={"Location": location})


async def ga_calls(request: Request) -> Response:
    """``POST /v1/realtime/calls``: GA."""
    return await _answer(request, Dialect.GA)


async def beta_offer(request: Request) -> Response:
    """``POST /v1/realtime?model=…``: the beta WebRTC flow."""
    return await _answer(request, Dialect.BETA)


async def control(request: Request) -> Response:
    """``POST /v1/realtime/calls/{call_id}/{action}``."""
    if _grant(request, standard_only=True) is None:
        return _unauthorized()
    call = calls_of(runtime_of(request)).calls.get(request.path_params["call_id"])
    if call is None:
        return api_error(404, "No such call.", "call_not_found")
    action = request.path_params["action"]
    if action not in ACTIONS:
        return api_error(404, f"Unknown call action {action!r}.", "not_found")
    if action in ("hangup", "reject"):
        await call.hangup()
        return Response(status_code=200)
    if action == "refer":
        return api_error(
            400, "refer transfers SIP calls; a WebRTC call cannot be referred.", "unsupported"
        )
    # accept: the call is already answered; its session body updates the session.
    raw = await request.body()
    try:
        body = loads(raw, max_depth=runtime_of(request).settings.max_json_depth) if raw else {}
        if not isinstance(body, dict):
            raise ValueError("not an object")
        payload = {k: v for k, v in body.items() if k != "type"}
        if payload:
            call.session.reconfigure(apply_update(call.session.config, payload, Dialect.GA))
    except ValueError:
        return api_error(400, "The request body must be a JSON object.", errors.INVALID_JSON)
    except CommandError as error:
        return api_error(400, error.message, error.code)
    return Response(status_code=200)


async def sideband(websocket: WebSocket, call_id: str) -> None:
    """``/v1/realtime?call_id=rtc_…``: the call's events (no audio) and any client event."""
    runtime = runtime_of(websocket)
    offered = list(websocket.scope.get("subprotocols", []))
    grant = runtime.keys.check(credential_from(websocket.headers, websocket.query_params, offered))
    if grant is None or grant.secret is not None:
        await websocket.send_denial_response(_unauthorized())
        return
    call = calls_of(runtime).calls.get(call_id)
    if call is None:
        await websocket.send_denial_response(api_error(404, "No such call.", "call_not_found"))
        return
    await websocket.accept()
    outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    watcher = call.watch(detect_dialect(websocket.headers, offered), outgoing.put_nowait)

    async def write() -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                await websocket.send_text(json.dumps(await outgoing.get()))

    writer = asyncio.create_task(write())
    ended = asyncio.create_task(call.ended.wait())
    try:
        while True:
            receiving = asyncio.ensure_future(websocket.receive())
            done, _ = await asyncio.wait({receiving, ended}, return_when=asyncio.FIRST_COMPLETED)
            if receiving not in done:
                receiving.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await receiving
                break
            message = receiving.result()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            frame = text if text is not None else bytes(message.get("bytes") or b"")
            await watcher.connection.receive(frame, call.session)
    finally:
        call.unwatch(watcher)
        for task in (writer, ended):
            task.cancel()
        await asyncio.gather(writer, ended, return_exceptions=True)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()


def webrtc_routes() -> list[BaseRoute]:
    return [
        Route("/v1/realtime", beta_offer, methods=["POST"]),
        Route("/v1/realtime/calls", ga_calls, methods=["POST"]),
        Route(
            "/v1/realtime/calls/{call_id}/{action:str}",
            control,
            methods=["POST"],
        ),
    ]
