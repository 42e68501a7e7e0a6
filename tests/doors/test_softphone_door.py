"""The softphone door with fake engines: the page, its key, bad input, and a call's keypad and
hang-up over a real (loopback) WebRTC peer. Nothing may be left behind."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiortc import RTCSessionDescription

from bridge.app import create_app
from bridge.config import Settings
from bridge.testing.fakes import fake_engines
from bridge.testing.serve import serve_app
from bridge.testing.webrtc_client import WebRTCClient

KEY = "sk-test"
SDP = {"Content-Type": "application/sdp"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("aioice.ice.get_host_addresses", lambda **_: ["127.0.0.1"])


async def serve(**settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    base = {"default_dialplan": "agent", "webrtc_connect_timeout_s": 1.0}
    app = create_app(Settings(**{**base, **settings}), engines=fake_engines())
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        yield http, app.state.runtime


@pytest.fixture
async def open_bridge() -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    async for pair in serve():
        yield pair


@pytest.fixture
async def client() -> AsyncIterator[WebRTCClient]:
    peer = WebRTCClient()
    peer.page = peer.pc.createDataChannel("softphone")  # type: ignore[attr-defined]
    peer.page.on("message", peer._on_message)  # type: ignore[attr-defined]
    yield peer
    await peer.close()


async def nothing_left(runtime: Any) -> None:
    async with asyncio.timeout(5):
        await runtime.calls.wait_empty()
        await runtime.admission.wait_idle()
        for peer in list(runtime.webrtc.peers.live):
            await peer.ended.wait()  # the peer's close runs as its own task
    assert len(runtime.webrtc.peers) == 0


async def page_key(http: httpx.AsyncClient, **headers: str) -> str:
    session = await http.post("/softphone/session", headers=headers)
    assert session.status_code == 200, session.text
    key: str = session.json()["key"]
    return key


async def test_the_page_is_served_with_its_assets_and_no_key_in_it(
    open_bridge: tuple[httpx.AsyncClient, Any],
) -> None:
    http, _ = open_bridge
    page = await http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/softphone/static/softphone.js" in page.text
    script = await http.get("/softphone/static/softphone.js")
    assert script.status_code == 200
    assert "ek_" not in script.text
    assert "sk-" not in page.text + script.text
    assert (await http.get("/softphone/static/softphone.css")).status_code == 200


async def test_softphone_off_means_no_page() -> None:
    async for http, _ in serve(softphone=False):
        assert (await http.get("/")).status_code == 404
        assert (await http.post("/softphone/session")).status_code == 404


async def test_an_open_bridge_mints_a_page_key_and_lists_its_numbers(
    open_bridge: tuple[httpx.AsyncClient, Any],
) -> None:
    http, runtime = open_bridge
    session = (await http.post("/softphone/session")).json()
    assert session["key"].startswith("ek_")
    assert session["ice_servers"] == []
    numbers = {entry["number"]: entry["name"] for entry in session["numbers"]}
    assert numbers["agent"] == "AI agent"
    assert numbers["+15550100100"] == "bank"  # dialplans/ routed by number
    assert runtime.keys.check(session["key"]) is not None


async def test_a_keyed_bridge_wants_a_standard_key_for_the_page_key() -> None:
    async for http, _ in serve(api_keys=[KEY]):
        assert (await http.post("/softphone/session")).status_code == 401
        key = await page_key(http, Authorization=f"Bearer {KEY}")
        renewed = await http.post("/softphone/session", headers={"Authorization": f"Bearer {key}"})
        assert renewed.status_code == 401  # a page key cannot mint itself a successor
        call = await http.post("/softphone/calls?number=agent", content="v=0", headers=SDP)
        assert call.status_code == 401


async def test_bad_calls_get_a_clear_status_and_take_no_place(
    open_bridge: tuple[httpx.AsyncClient, Any], client: WebRTCClient
) -> None:
    http, runtime = open_bridge
    auth = {"Authorization": f"Bearer {await page_key(http)}"}
    offer = await client.offer()
    cases = [
        ("agent", offer, {"Content-Type": "text/plain"}, 415, "application/sdp"),
        ("", offer, SDP, 400, "number"),
        ("x" * 100, offer, SDP, 400, "number"),
        ("agent", "not sdp", SDP, 400, "v=0"),
        ("agent", offer.replace("m=audio", "m=video"), SDP, 400, "no audio"),
        ("agent", "v=0\r\n" + "a=x\r\n" * 20_000, SDP, 413, "bytes"),
    ]
    for number, body, headers, status, reason in cases:
        reply = await http.post(
            "/softphone/calls", params={"number": number}, content=body, headers={**auth, **headers}
        )
        assert reply.status_code == status, (number, reply.text)
        assert reason in reply.json()["error"]["message"]
    unknown = await http.delete("/softphone/calls/sp_nope", headers=auth)
    assert unknown.status_code == 404
    await nothing_left(runtime)


async def test_a_peer_that_never_connects_is_closed_and_frees_its_place(
    open_bridge: tuple[httpx.AsyncClient, Any], client: WebRTCClient
) -> None:
    http, runtime = open_bridge
    auth = {"Authorization": f"Bearer {await page_key(http)}", **SDP}
    reply = await http.post(
        "/softphone/calls?number=agent", content=await client.offer(), headers=auth
    )
    assert reply.status_code == 201
    assert runtime.admission.live["softphone"] == 1
    await nothing_left(runtime)  # the 1 s connect watchdog closed it; the answer was never used


async def test_keypad_digits_reach_the_call_and_hang_up_ends_it(
    open_bridge: tuple[httpx.AsyncClient, Any], client: WebRTCClient
) -> None:
    http, runtime = open_bridge
    auth = {"Authorization": f"Bearer {await page_key(http)}", **SDP}

    async def post(offer: str) -> str:
        reply = await http.post("/softphone/calls?number=agent", content=offer, headers=auth)
        assert reply.status_code == 201, reply.text
        assert reply.headers["location"].startswith("/softphone/calls/sp_")
        return reply.text

    answer = await post(await client.offer())
    await client.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    started = await client.next_event("call.started", within=10)
    assert started["name"] == "AI agent"
    await client.wait_audio(200)  # the greeting, through the paced track
    page = client.page  # type: ignore[attr-defined]
    page.send(json.dumps({"type": "dtmf", "digit": "5"}))
    assert (await client.next_event("dtmf.received"))["digit"] == "5"
    page.send("garbage")  # one bad message: logged, the call goes on
    page.send(json.dumps({"type": "dtmf", "digit": "#"}))
    assert (await client.next_event("dtmf.received"))["digit"] == "#"
    page.send(json.dumps({"type": "hangup"}))
    await nothing_left(runtime)


async def test_a_call_hung_up_from_outside_tells_the_page(
    open_bridge: tuple[httpx.AsyncClient, Any], client: WebRTCClient
) -> None:
    http, runtime = open_bridge
    auth = {"Authorization": f"Bearer {await page_key(http)}"}
    reply = await http.post(
        "/softphone/calls?number=agent", content=await client.offer(), headers={**auth, **SDP}
    )
    await client.pc.setRemoteDescription(RTCSessionDescription(sdp=reply.text, type="answer"))
    await client.next_event("call.started", within=10)
    gone = await http.delete(reply.headers["location"], headers=auth)
    assert gone.status_code == 204
    await client.next_event("hangup")
    await nothing_left(runtime)
