"""The carrier doors: webhooks, one media route per carrier, and a
shared ``/media`` route that recognises the carrier from its first message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from bridge.calls.call import Call
from bridge.calls.control import CallControl, PlivoControl, TelnyxControl, TwilioControl
from bridge.calls.transports import WebSocketTransport
from bridge.carriers.base import (
    CallStarted,
    CarrierCodec,
    CarrierProtocolError,
    Frame,
    json_object,
)
from bridge.carriers.exotel import ExotelCodec
from bridge.carriers.jambonz import SUBPROTOCOLS as JAMBONZ_SUBPROTOCOLS
from bridge.carriers.jambonz import JambonzCodec
from bridge.carriers.plivo import PlivoCodec
from bridge.carriers.telnyx import STREAM_TOKEN_HEADER, TelnyxCodec, stream_token_valid
from bridge.carriers.twilio import TwilioCodec, connect_stream_twiml, valid_twilio_signature
from bridge.carriers.vonage import VonageCodec
from bridge.config import Settings
from bridge.doors.admission import Refused, Ticket
from bridge.logging import get_logger
from bridge.observe import annotate, observing, span
from bridge.runtime import Runtime, runtime_of

log = get_logger("bridge.calls")


@dataclass(frozen=True)
class CarrierRoute:
    name: str
    codec: Callable[[], CarrierCodec]
    subprotocols: tuple[str, ...] = ()


CARRIERS: dict[str, CarrierRoute] = {
    "twilio": CarrierRoute("twilio", TwilioCodec),
    "signalwire": CarrierRoute("signalwire", TwilioCodec),  # Twilio-compatible
    "telnyx": CarrierRoute("telnyx", TelnyxCodec),
    "plivo": CarrierRoute("plivo", PlivoCodec),
    "vonage": CarrierRoute("vonage", VonageCodec),
    "exotel": CarrierRoute("exotel", ExotelCodec),
    "jambonz": CarrierRoute("jambonz", JambonzCodec, JAMBONZ_SUBPROTOCOLS),
}


def public_base(request: Request | WebSocket, scheme: str) -> str:
    """The externally visible base URL: the configured one, else what the request shows."""
    configured = runtime_of(request).settings.public_url.rstrip("/")
    if configured:
        base = configured
    else:
        forwarded = request.headers.get("x-forwarded-proto")
        host = request.headers.get("host", request.url.netloc)
        base = f"{forwarded or request.url.scheme}://{host}"
    secure = base.startswith(("https://", "wss://"))
    rest = base.split("://", 1)[1]
    if scheme == "ws":
        return f"{'wss' if secure else 'ws'}://{rest}"
    return f"{'https' if secure else 'http'}://{rest}"


async def twilio_voice(request: Request) -> Response:
    """The voice webhook: answer with TwiML that streams the call to ``/twilio/media``."""
    settings = runtime_of(request).settings
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    if settings.twilio_auth_token:
        url = public_base(request, "http") + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        if not valid_twilio_signature(
            settings.twilio_auth_token, request.headers.get("x-twilio-signature"), url, params
        ):
            log.warning("refused a Twilio webhook with a bad signature")
            return PlainTextResponse("invalid X-Twilio-Signature", status_code=403)
    stream_url = public_base(request, "ws") + "/twilio/media"
    forwarded: dict[str, str] = {k: params[k] for k in ("From", "To", "CallSid") if k in params}
    return Response(connect_stream_twiml(stream_url, forwarded), media_type="application/xml")


async def _deny(websocket: WebSocket, refused: Refused) -> None:
    """Refuse the upgrade itself (503 + Retry-After), so the carrier or a load balancer in
    front sees an HTTP status, not a call that opens and closes."""
    log.warning("refused a carrier connection", reason=refused.reason)
    await websocket.send_denial_response(
        PlainTextResponse(refused.message, status_code=503, headers=refused.headers)
    )


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    log.warning("refused a carrier connection", reason=reason)
    await websocket.close(code=code, reason=reason)


def _authorised(websocket: WebSocket, carrier: str) -> bool:
    settings = runtime_of(websocket).settings
    if carrier == "twilio" and settings.twilio_auth_token:
        url = public_base(websocket, "ws") + websocket.url.path
        signature = websocket.headers.get("x-twilio-signature")
        return valid_twilio_signature(settings.twilio_auth_token, signature, url)
    if carrier == "telnyx" and settings.telnyx_stream_token:
        presented = websocket.headers.get(STREAM_TOKEN_HEADER)
        return stream_token_valid(presented, settings.telnyx_stream_token)
    return True


def rest_control(
    carrier: str, settings: Settings, public_http: str
) -> Callable[[Call, CallStarted], CallControl] | None:
    """The carrier's REST call control when its credentials are configured."""
    if carrier in ("twilio", "signalwire") and settings.twilio_account_sid:
        return lambda call, started: TwilioControl(settings.control, started.call_id)
    if carrier == "telnyx" and settings.telnyx_api_key:
        return lambda call, started: TelnyxControl(settings.control, started.call_id)
    if carrier == "plivo" and settings.plivo_auth_id:
        transfer_url = public_http + "/plivo/transfer"
        return lambda call, started: PlivoControl(settings.control, started.call_id, transfer_url)
    return None  # in-band: the protocol's hang-up frame, or closing the connection


async def run_call(
    runtime: Runtime, call: Call, ticket: Ticket, started: CallStarted | None = None
) -> None:
    """Serve an admitted call, registered as live for its lifetime (observed by the bridge's
    metrics, and traced as one ``call`` span when tracing is on)."""
    with ticket, observing(runtime.observer), span("call", **{"bridge.door": ticket.door}):
        call.hooks.on_start.append(lambda started: _annotate(call, started))
        await runtime.calls.add(call)
        try:
            await call.run(started)
        finally:
            await runtime.calls.discard(call)
            if call in runtime.cut_by_drain:
                ticket.outcome = "drained"


def _annotate(call: Call, started: CallStarted) -> None:
    call_id = started.call_id or "unknown"
    annotate(**{"bridge.call_id": call_id, "bridge.carrier": call.codec.name})


async def serve_call(
    websocket: WebSocket, route: CarrierRoute, first: list[Frame], ticket: Ticket
) -> None:
    runtime = runtime_of(websocket)
    call = Call(
        route.codec(),
        WebSocketTransport(websocket, first),
        engines=ticket.engines,
        settings=runtime.settings,
        control=rest_control(route.name, runtime.settings, public_base(websocket, "http")),
        controller=runtime.call_flow,
    )
    await run_call(runtime, call, ticket)


async def plivo_transfer(request: Request) -> Response:
    """Plivo XML that dials the transfer target (Plivo fetches it when we transfer a call)."""
    target = request.query_params.get("to", "")
    if not target:
        return PlainTextResponse("missing 'to'", status_code=400)
    inner = (
        f"<User>{escape(target)}</User>"
        if target.startswith("sip:")
        else f"<Number>{escape(target)}</Number>"
    )
    return Response(f"<Response><Dial>{inner}</Dial></Response>", media_type="application/xml")


def carrier_endpoint(route: CarrierRoute) -> Callable[[WebSocket], object]:
    async def endpoint(websocket: WebSocket) -> None:
        if not _authorised(websocket, route.name):
            await websocket.send_denial_response(
                PlainTextResponse("invalid carrier signature", status_code=403)
            )
            return
        ticket = runtime_of(websocket).admission.admit("carrier")
        if isinstance(ticket, Refused):
            await _deny(websocket, ticket)
            return
        offered = websocket.scope.get("subprotocols", [])
        chosen = next((p for p in offered if p in route.subprotocols), None)
        await websocket.accept(subprotocol=chosen)
        await serve_call(websocket, route, [], ticket)

    return endpoint


def detect_carrier(frame: Frame, subprotocols: list[str]) -> str | None:
    """Which carrier sent this frame; None when it does not tell (a bare "connected")."""
    for name, route in CARRIERS.items():
        if any(p in route.subprotocols for p in subprotocols):
            return name
    if isinstance(frame, bytes):
        # AudioSocket opens with its UUID frame: kind 0x01, length 16.
        return "audiosocket" if frame[:3] == b"\x01\x00\x10" else None
    try:
        message = json_object(frame)
    except CarrierProtocolError:
        return None
    start = message.get("start")
    if not isinstance(start, dict):
        start = {}
    keys = set(message) | set(start)
    if message.get("event") == "websocket:connected":
        return "vonage"
    if message.get("protocol") == "Call" or "streamSid" in keys:
        return "twilio"
    if "stream_id" in keys or "call_control_id" in keys:
        return "telnyx"
    if "stream_sid" in keys:
        return "exotel"
    if "callId" in keys or "streamId" in keys:
        return "plivo"
    if "callSid" in keys and "sampleRate" in keys:
        return "jambonz"
    return None


async def shared_media(websocket: WebSocket) -> None:
    """``/media``: accept, read the first message, and hand over to that carrier's codec."""
    offered = list(websocket.scope.get("subprotocols", []))
    known = {p for route in CARRIERS.values() for p in route.subprotocols}
    ticket = runtime_of(websocket).admission.admit("carrier")
    if isinstance(ticket, Refused):
        await _deny(websocket, ticket)
        return
    try:
        await websocket.accept(subprotocol=next((p for p in offered if p in known), None))
        transport = WebSocketTransport(websocket)
        seen: list[Frame] = []
        name = None
        while name is None and len(seen) < 2:  # a bare "connected" says nothing: read one more
            frame = await transport.receive()
            if frame is None:
                return
            seen.append(frame)
            name = detect_carrier(frame, offered)
        route = CARRIERS.get(name or "")
        if route is None:
            await _refuse(websocket, 1003, "unrecognised carrier protocol")
            return
        if not _authorised(websocket, route.name):
            await _refuse(websocket, 1008, "invalid carrier signature")
            return
        log.info("carrier recognised", carrier=route.name)
        await serve_call(websocket, route, seen, ticket)
    finally:
        if isinstance(ticket, Ticket):
            ticket.release()  # not served (refused or gone): the place is free again


def call_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route("/twilio/voice", twilio_voice, methods=["POST"]),
        Route("/plivo/transfer", plivo_transfer, methods=["GET", "POST"]),
        WebSocketRoute("/media", shared_media),
    ]
    routes += [
        WebSocketRoute(f"/{name}/media", carrier_endpoint(r)) for name, r in CARRIERS.items()
    ]
    return routes
