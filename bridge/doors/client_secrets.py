"""Client secrets for the realtime API: ``POST /v1/realtime/sessions`` (beta) and
``POST /v1/realtime/client_secrets`` (GA) mint short-lived ``ek_`` keys for browsers."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.engine import errors
from bridge.engine.config import SessionConfig
from bridge.engine.errors import CommandError
from bridge.json_limits import loads
from bridge.realtime.auth import credential_from
from bridge.realtime.dialect import Dialect
from bridge.realtime.session_config import apply_update
from bridge.realtime.session_render import render_session
from bridge.runtime import runtime_of

BETA_SECRET_TTL_S = 60  # beta client secrets last one minute
GA_SECRET_TTL_S = 600  # GA default expires_after


def api_error(
    status: int, message: str, code: str, kind: str = errors.INVALID_REQUEST
) -> JSONResponse:
    """An error body as OpenAI's HTTP API shapes it."""
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": code, "param": None}},
        status_code=status,
    )


async def _session_payload(request: Request) -> dict[str, Any] | Response:
    runtime = runtime_of(request)
    credential = credential_from(request.headers, request.query_params, [])
    grant = runtime.keys.check(credential)
    if grant is None or grant.secret is not None:  # secrets cannot mint secrets
        return api_error(401, "Incorrect or missing API key.", "invalid_api_key")
    raw = await request.body()
    try:
        body = loads(raw, max_depth=runtime.settings.max_json_depth) if raw else {}
    except ValueError:  # not UTF-8, not JSON, or nested too deep to parse safely
        return api_error(400, "The request body is not valid JSON.", errors.INVALID_JSON)
    if not isinstance(body, dict):
        return api_error(400, "The request body must be a JSON object.", errors.INVALID_VALUE)
    return body


async def beta_sessions(request: Request) -> Response:
    """``POST /v1/realtime/sessions``: a beta session object with a ``client_secret``."""
    body = await _session_payload(request)
    if isinstance(body, Response):
        return body
    try:
        config = apply_update(SessionConfig(), body, Dialect.BETA)
    except CommandError as error:
        return api_error(400, error.message, error.code)
    secret = runtime_of(request).keys.mint(BETA_SECRET_TTL_S, body)
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
        return api_error(
            400, "expires_after.seconds must be between 10 and 7200.", errors.INVALID_VALUE
        )
    payload = body.get("session") or {}
    try:
        config = apply_update(SessionConfig(), payload, Dialect.GA)
    except CommandError as error:
        return api_error(400, error.message, error.code)
    secret = runtime_of(request).keys.mint(ttl, payload)
    return JSONResponse(
        {
            "value": secret.value,
            "expires_at": secret.expires_at,
            "session": render_session(config, Dialect.GA, "sess_ephemeral"),
        }
    )
