"""Bad input at the WebRTC door: each gets its status or ``error`` event, and nothing leaks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets
from conftest import RunningBridge

from bridge.config import Settings
from bridge.realtime.dialect import Dialect
from bridge.testing.sdk_validation import validate_server_event
from bridge.testing.webrtc_client import WebRTCClient

pytestmark = pytest.mark.slow
KEY = "sk-test"
AUTH = {"Authorization": f"Bearer {KEY}"}
SDP = {"Content-Type": "application/sdp"}
ORIGIN = "https://app.example"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("aioice.ice.get_host_addresses", lambda **_: ["127.0.0.1"])


@pytest.fixture
def bridge_settings() -> Settings:
    return Settings(
        api_keys=[KEY], default_dialplan="agent", cors_origins=[ORIGIN], webrtc_connect_timeout_s=1
    )


@pytest.fixture
async def http(bridge: RunningBridge) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=bridge.url, timeout=20) as client:
        yield client


@pytest.fixture
async def client() -> AsyncIterator[WebRTCClient]:
    peer = WebRTCClient()
    yield peer
    await peer.close()


def nothing_left(bridge: RunningBridge) -> None:
    runtime = bridge.app.state.runtime
    assert len(runtime.webrtc) == 0
    assert len(runtime.webrtc.peers) == 0
    assert runtime.admission.total == 0


async def test_malformed_and_non_audio_offers_get_400_with_the_reason(
    bridge: RunningBridge, http: httpx.AsyncClient, client: WebRTCClient
) -> None:
    offer = await client.offer()
    cases = {
        "not sdp at all": "must start with 'v=0'",
        offer.replace("m=audio", "m=video"): "no audio m-line",
        offer.replace("a=fingerprint", "a=x-fingerprint"): "DTLS fingerprint",
    }
    for body, reason in cases.items():
        reply = await http.post("/v1/realtime/calls", content=body, headers={**AUTH, **SDP})
        assert reply.status_code == 400
        assert reply.json()["error"]["code"] == "invalid_sdp"
        assert reason in reply.json()["error"]["message"]
    wrong_type = await http.post("/v1/realtime/calls", content=offer, headers=AUTH)
    assert wrong_type.status_code == 415
    no_part = await http.post("/v1/realtime/calls", files={"session": (None, "{}")}, headers=AUTH)
    assert no_part.status_code == 400
    nothing_left(bridge)


async def test_wrong_or_expired_keys_get_401_and_unknown_calls_404(
    bridge: RunningBridge, http: httpx.AsyncClient, client: WebRTCClient
) -> None:
    offer = await client.offer()
    for key in ("sk-wrong", "ek_never_minted"):
        reply = await http.post(
            "/v1/realtime/calls", content=offer, headers={"Authorization": f"Bearer {key}", **SDP}
        )
        assert reply.status_code == 401
    keys = bridge.app.state.runtime.keys
    expired = keys.mint(10, {})
    keys._clock = lambda: time.time() + 60  # ten seconds are long gone
    try:
        reply = await http.post(
            "/v1/realtime?model=x",
            content=offer,
            headers={"Authorization": f"Bearer {expired.value}", **SDP},
        )
    finally:
        keys._clock = time.time
    assert reply.status_code == 401
    for action in ("hangup", "accept", "refer", "reject"):
        reply = await http.post(f"/v1/realtime/calls/rtc_nope/{action}", headers=AUTH)
        assert reply.status_code == 404
    unauthorized = await http.post("/v1/realtime/calls/rtc_nope/hangup")
    assert unauthorized.status_code == 401
    url = bridge.url.replace("http://", "ws://") + "/v1/realtime?call_id=rtc_nope"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(url, additional_headers=AUTH)
    assert refused.value.response.status_code == 404
    nothing_left(bridge)


async def test_a_peer_that_never_connects_is_closed_by_the_watchdog(
    bridge: RunningBridge, http: httpx.AsyncClient, client: WebRTCClient
) -> None:
    offer = await client.offer(strip=True)
    reply = await http.post("/v1/realtime/calls", content=offer, headers={**AUTH, **SDP})
    assert reply.status_code == 201  # answered; the client never uses the answer
    runtime = bridge.app.state.runtime
    call = next(iter(runtime.webrtc.calls.values()))
    assert runtime.admission.total == 1
    async with asyncio.timeout(10):
        await call.ended.wait()
    await asyncio.gather(*list(runtime.webrtc._tasks), return_exceptions=True)
    nothing_left(bridge)
    assert not call.peer.tasks


async def test_garbage_on_the_data_channel_gets_error_events_and_the_call_goes_on(
    bridge: RunningBridge, http: httpx.AsyncClient, client: WebRTCClient
) -> None:
    async def post(offer: str) -> str:
        reply = await http.post("/v1/realtime/calls", content=offer, headers={**AUTH, **SDP})
        return reply.text

    await client.connect(post)
    await client.next_event("session.created")
    garbage: list[str | bytes] = ["not json", "[]", '{"type": 7}', b"\x00\x01", "{" * 500]
    garbage += [json.dumps({"type": "no.such.event", "n": n}) for n in range(300)]
    for message in garbage:
        client.channel.send(message)
    client.send({"type": "session.update", "session": {"type": "realtime", "instructions": "ok"}})
    updated = await client.next_event("session.updated", within=30)
    assert updated["session"]["instructions"] == "ok"
    errors = [e for e in client.all_events if e["type"] == "error"]
    assert len(errors) >= 100  # refused one by one (or as too many waiting), never a dead call
    for event in client.all_events:
        validate_server_event(event, Dialect.GA)
    call_id = next(iter(bridge.app.state.runtime.webrtc.calls))
    await http.post(f"/v1/realtime/calls/{call_id}/hangup", headers=AUTH)
    call = bridge.app.state.runtime.webrtc.calls.get(call_id)
    if call is not None:
        async with asyncio.timeout(10):
            await call.ended.wait()
    await asyncio.gather(*list(bridge.app.state.runtime.webrtc._tasks), return_exceptions=True)
    nothing_left(bridge)


async def test_cors_preflight_allows_the_sdk_headers_and_exposes_location(
    bridge: RunningBridge, http: httpx.AsyncClient
) -> None:
    preflight = await http.options(
        "/v1/realtime/calls",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-openai-agents-sdk",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    allowed = preflight.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "x-openai-agents-sdk"):
        assert header in allowed
    other = await http.options(
        "/v1/realtime/calls",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert other.status_code == 400
    simple = await http.post(
        "/v1/realtime/calls", content="v=0", headers={"Origin": ORIGIN, **AUTH, **SDP}
    )
    assert simple.headers["access-control-expose-headers"] == "Location"
    unrelated = await http.get("/healthz", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in unrelated.headers
