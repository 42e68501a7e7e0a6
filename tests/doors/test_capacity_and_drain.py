"""Capacity and draining at every door, in process: readiness says why the bridge takes no
calls, every refusal is a 503 with Retry-After before any socket is accepted, POST /drain needs
an API key when keys are set, and liveness stays green. (SIGTERM on a real `bridge serve`:
tests/test_drain.py.)"""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets
from metrics_support import metric_value

from bridge.config import Settings
from bridge.doors.admission import Admission, Refused, Ticket

KEY = "sk-ops-test"


def carrier_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/twilio/media"


async def refused_upgrade(url: str, headers: dict[str, str] | None = None) -> websockets.Response:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, additional_headers=headers):
            pass
    return refused.value.response


def test_draining_refuses_first_and_says_so() -> None:
    admission = Admission(2, lambda: object())  # type: ignore[arg-type,return-value]
    ticket = admission.admit("sip")
    assert isinstance(ticket, Ticket)
    admission.draining = True
    refused = admission.admit("carrier")
    assert isinstance(refused, Refused)
    assert (refused.reason, refused.http_status, refused.headers) == (
        "draining",
        503,
        {"Retry-After": "30"},
    )
    assert admission.state == "draining"
    ticket.release()
    assert admission.total == 0


async def test_wait_idle_returns_when_the_last_call_ends() -> None:
    admission = Admission(2, lambda: object())  # type: ignore[arg-type,return-value]
    first, second = admission.admit("sip"), admission.admit("realtime")
    assert isinstance(first, Ticket)
    assert isinstance(second, Ticket)
    waiter = asyncio.create_task(admission.wait_idle())
    first.release()
    await asyncio.sleep(0.01)
    assert not waiter.done()
    second.release()
    await asyncio.wait_for(waiter, 1)


async def test_a_full_bridge_is_not_ready_and_refuses_upgrades_with_503(bridge) -> None:  # type: ignore[no-untyped-def]
    runtime = bridge.app.state.runtime
    runtime.admission.capacity = 1
    async with (
        websockets.connect(bridge.ws_url + "/realtime") as session,
        httpx.AsyncClient(base_url=bridge.url) as client,
    ):
        assert (await session.recv()) is not None  # session.created: admitted
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()) == (503, {"status": "full", "live": 1})
        carrier = await refused_upgrade(carrier_url(bridge.url))
        assert (carrier.status_code, carrier.headers["Retry-After"]) == (503, "5")
        metrics = (await client.get("/metrics")).text
        assert metric_value(metrics, "bridge_live_calls", door="realtime") == 1
        assert metric_value(metrics, "bridge_calls_refused_total", door="carrier", reason="full")
        assert metric_value(metrics, "bridge_capacity_calls") == 1
    async with httpx.AsyncClient(base_url=bridge.url) as client:
        for _ in range(100):  # the session's end is counted once its handler returns
            if (await client.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.02)
        assert (await client.get("/readyz")).json()["status"] == "ready"


@pytest.mark.parametrize(
    "bridge_settings", [Settings(api_keys=[KEY], vad_silence_ms=500, default_dialplan="agent")]
)
async def test_post_drain_needs_the_key_then_refuses_everything_new(bridge) -> None:  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=bridge.url) as client:
        assert (await client.post("/drain")).status_code == 401
        assert (await client.get("/readyz")).status_code == 200
        started = await client.post("/drain", headers=auth)
        assert (started.status_code, started.json()) == (202, {"status": "draining", "live": 0})
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()["status"]) == (503, "draining")
        assert ready.headers["Retry-After"] == "30"
        assert (await client.get("/healthz")).status_code == 200  # liveness stays green
        realtime = await refused_upgrade(bridge.ws_url + "/realtime", auth)
        assert realtime.status_code == 503
        assert b'"draining"' in realtime.body
        carrier = await refused_upgrade(carrier_url(bridge.url))
        assert (carrier.status_code, carrier.headers["Retry-After"]) == (503, "30")
        metrics = (await client.get("/metrics")).text
        assert metric_value(metrics, "bridge_draining") == 1
        assert metric_value(metrics, "bridge_ready") == 0
        refused = metric_value(
            metrics, "bridge_calls_refused_total", door="carrier", reason="draining"
        )
        assert refused == 1
        # Draining again changes nothing.
        assert (await client.post("/drain", headers=auth)).status_code == 202


async def test_concurrent_websocket_calls_never_exceed_max_calls(bridge) -> None:  # type: ignore[no-untyped-def]
    runtime = bridge.app.state.runtime
    runtime.admission.capacity = 3
    most = 0
    observed = runtime.admission.admit

    def admit(door: str) -> object:
        nonlocal most
        ticket = observed(door)
        most = max(most, runtime.admission.total)
        return ticket

    runtime.admission.admit = admit
    url = carrier_url(bridge.url)

    async def dial() -> int:
        try:
            async with websockets.connect(url) as socket:
                await asyncio.sleep(0.5)  # hold the place (no start: the call waits for one)
                await socket.close()
                return 101
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    codes = await asyncio.gather(*(dial() for _ in range(10)))
    assert sorted(codes) == [101] * 3 + [503] * 7
    assert most == 3
