"""``POST /v1/sip/calls``: place an outbound SIP call that the bridge then serves."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.json_limits import loads
from bridge.realtime.auth import credential_from
from bridge.runtime import runtime_of
from bridge.sip.outbound import SipError


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=status)


async def place_call(request: Request) -> Response:
    runtime = runtime_of(request)
    grant = runtime.keys.check(credential_from(request.headers, request.query_params, []))
    if grant is None or grant.secret is not None:
        return _error(401, "Incorrect or missing API key.")
    if runtime.sip is None:
        return _error(503, "SIP is off: set BRIDGE_SIP_PORT.")
    if not runtime.ready:
        return _error(503, "The bridge is still loading its models.")
    if runtime.draining:
        return _error(503, "The bridge is draining: it places no new calls.")
    try:
        body = loads(await request.body(), max_depth=runtime.settings.max_json_depth)
    except ValueError:  # not UTF-8, not JSON, or nested too deep to parse safely
        return _error(400, "The request body is not valid JSON.")
    target = body.get("to") if isinstance(body, dict) else None
    if not isinstance(target, str) or not target.strip():
        return _error(400, "Give the number or SIP URI to call as 'to'.")
    try:
        call_id = await runtime.sip.dial(target.strip())
    except SipError as exc:
        return JSONResponse(
            {"error": {"message": str(exc), "sip_status": exc.status}}, status_code=502
        )
    return JSONResponse({"call_id": call_id, "to": target.strip()}, status_code=201)


def sip_routes() -> list[Route]:
    return [Route("/v1/sip/calls", place_call, methods=["POST"])]
