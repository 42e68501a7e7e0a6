"""The softphone door: the page at ``/``, its short-lived key, and its calls.

* ``GET /``: the softphone page (``bridge/softphone/static``, no build step, no CDN).
* ``POST /softphone/session``: a short-lived ``ek_`` key for the page and the numbers it can
  call. An open bridge (no ``BRIDGE_API_KEYS``) mints it for anyone who can load the page; a
  keyed bridge wants a standard key, which the page asks its user for: the API key is never in
  the page's source.
* ``POST /softphone/calls?number=…``: an SDP offer (``application/sdp``) with the page's key →
  201 with the answer SDP and ``Location: /softphone/calls/sp_…``. The call is a real call:
  :class:`~bridge.calls.call.Call` with the browser codec, routed like a carrier's call
  (dialplans, agent, tools, barge-in, recordings, DTMF through ``on_dtmf``), admitted and
  counted like every door (``door="softphone"``).
* ``DELETE /softphone/calls/{id}``: hang a call up from outside the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from importlib.resources import files
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bridge.calls.call import Call
from bridge.carriers.base import CallStarted
from bridge.carriers.browser import BrowserCodec
from bridge.config import Settings
from bridge.doors.admission import Refused
from bridge.doors.carriers import run_call
from bridge.doors.client_secrets import api_error
from bridge.doors.webrtc_call import peer_settings
from bridge.engine import errors
from bridge.logging import get_logger
from bridge.realtime.auth import credential_from
from bridge.runtime import Runtime, runtime_of
from bridge.softphone.directory import BadNumber, dial, listing
from bridge.softphone.feed import PageFeed
from bridge.softphone.transport import OfferRejected, SoftphoneTransport

log = get_logger("bridge.softphone")
MAX_OFFER_BYTES = 64 * 1024  # a browser's offer is a few kilobytes
CALL_ID_PREFIX = "sp_"
STATIC = files("bridge.softphone") / "static"


def ice_servers_for_page(settings: Settings) -> list[dict[str, Any]]:
    """The page's ``iceServers``: the bridge's own STUN/TURN servers (none by default: on a
    LAN or localhost, host candidates connect)."""
    servers: list[dict[str, Any]] = []
    for url in settings.webrtc_ice_servers:
        server: dict[str, Any] = {"urls": url}
        if url.startswith(("turn:", "turns:")) and settings.webrtc_turn_username:
            server["username"] = settings.webrtc_turn_username
            server["credential"] = settings.webrtc_turn_credential
        servers.append(server)
    return servers


async def page(request: Request) -> Response:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))


async def session(request: Request) -> Response:
    """``POST /softphone/session``: ``{key, expires_at, numbers, ice_servers}``."""
    runtime = runtime_of(request)
    if not runtime.keys.open:
        grant = runtime.keys.check(credential_from(request.headers, request.query_params, []))
        if grant is None or grant.secret is not None:  # a page key cannot renew itself
            return api_error(401, "Incorrect or missing API key.", "invalid_api_key")
    secret = runtime.keys.mint(runtime.settings.softphone_key_ttl_s, {"softphone": True})
    body: dict[str, Any] = {
        "key": secret.value,
        "expires_at": secret.expires_at,
        "numbers": listing(runtime.router),
        "ice_servers": ice_servers_for_page(runtime.settings),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def place_call(request: Request) -> Response:
    """``POST /softphone/calls?number=…``: answer the page's offer and serve the call."""
    runtime = runtime_of(request)
    if runtime.keys.check(credential_from(request.headers, {}, [])) is None:
        return api_error(
            401, "Incorrect or missing key: POST /softphone/session for one.", "invalid_api_key"
        )
    try:
        dialled = dial(runtime.router, request.query_params.get("number", ""))
    except BadNumber as exc:
        return api_error(400, f"number: {exc}", errors.INVALID_VALUE)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/sdp":
        return api_error(
            415, "Send the SDP offer with Content-Type: application/sdp.", errors.INVALID_VALUE
        )
    raw = await request.body()
    if len(raw) > MAX_OFFER_BYTES:
        return api_error(
            413, f"The SDP offer is over {MAX_OFFER_BYTES} bytes.", errors.INVALID_VALUE
        )
    ticket = runtime.admission.admit("softphone")
    if isinstance(ticket, Refused):
        response = api_error(503, ticket.message, ticket.reason, errors.SERVER_ERROR)
        response.headers.update(ticket.headers)
        return response
    call_id = CALL_ID_PREFIX + secrets.token_hex(12)
    try:
        transport, answer = await SoftphoneTransport.answer(
            raw, peer_settings(runtime.settings), runtime.webrtc.peers
        )
    except OfferRejected as exc:
        ticket.release()
        return api_error(400, f"Bad SDP offer: {exc}", errors.INVALID_VALUE)
    except BaseException:
        ticket.release()
        raise
    feed = PageFeed(transport.send_event)
    call = Call(
        BrowserCodec(),
        transport,
        engines=ticket.engines,
        settings=runtime.settings,
        hooks=feed.hooks(),
        controller=None if dialled.agent else runtime.call_flow,
    )
    started = CallStarted(
        call_id=call_id,
        media=transport.media,
        from_number="softphone",
        to_number=dialled.to_number,
        parameters={"door": "softphone"},
    )
    plan = None if dialled.agent else runtime.router.select(started)
    feed.started(
        call_id, request.query_params.get("number", "").strip(), plan.name if plan else "AI agent"
    )
    calls = _calls(request)
    task = asyncio.create_task(_serve(runtime, call, ticket, started, transport))
    calls[call_id] = (call, task)
    task.add_done_callback(lambda _: calls.pop(call_id, None))
    log.info("softphone call", call_id=call_id, number=dialled.to_number or "agent")
    return Response(
        answer,
        status_code=201,
        media_type="application/sdp",
        headers={"Location": f"/softphone/calls/{call_id}", "Cache-Control": "no-store"},
    )


LiveSoftphoneCalls = dict[str, tuple[Call, "asyncio.Task[None]"]]


def _calls(request: Request) -> LiveSoftphoneCalls:
    """This app's softphone calls by id (each holds its task, so none is lost mid-call)."""
    calls: LiveSoftphoneCalls | None = getattr(request.app.state, "softphone_calls", None)
    if calls is None:
        calls = request.app.state.softphone_calls = {}
    return calls


async def _serve(
    runtime: Runtime, call: Call, ticket: Any, started: CallStarted, transport: SoftphoneTransport
) -> None:
    try:
        if await transport.connected():
            await run_call(runtime, call, ticket, started)
        else:
            log.warning("softphone peer never connected", call_id=started.call_id)
    finally:
        ticket.release()
        await transport.close()


async def hang_up(request: Request) -> Response:
    """``DELETE /softphone/calls/{id}``: end a call (a key, page or standard, is needed)."""
    runtime = runtime_of(request)
    if runtime.keys.check(credential_from(request.headers, request.query_params, [])) is None:
        return api_error(401, "Incorrect or missing API key.", "invalid_api_key")
    entry = _calls(request).get(request.path_params["call_id"])
    if entry is None:
        return api_error(404, "No such softphone call.", "call_not_found")
    call, _task = entry
    await call.control.hangup()
    return Response(status_code=204)


async def end_softphone_calls(app: Any) -> None:
    """At shutdown: hang up every softphone call and wait for it (their tasks belong to no
    connection that the server would close)."""
    calls: LiveSoftphoneCalls = getattr(app.state, "softphone_calls", None) or {}
    for call, task in list(calls.values()):
        with contextlib.suppress(Exception):
            await call.control.hangup()
        task.cancel()
    await asyncio.gather(*(task for _, task in list(calls.values())), return_exceptions=True)


def softphone_routes(enabled: bool) -> list[BaseRoute]:
    if not enabled:
        return []
    return [
        Route("/", page),
        Mount("/softphone/static", StaticFiles(packages=[("bridge.softphone", "static")])),
        Route("/softphone/session", session, methods=["POST"]),
        Route("/softphone/calls", place_call, methods=["POST"]),
        Route("/softphone/calls/{call_id}", hang_up, methods=["DELETE"]),
    ]
