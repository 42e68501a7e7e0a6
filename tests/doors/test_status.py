"""``GET /v1/status``: live calls per door, capacity, memory, descriptors and tasks."""

from __future__ import annotations

import httpx

from bridge.app import create_app
from bridge.config import Settings
from bridge.testing.fakes import fake_engines
from bridge.testing.serve import serve_app


async def test_status_counts_what_the_process_holds() -> None:
    app = create_app(Settings(api_keys=[], max_calls=7), engines=fake_engines())
    async with serve_app(app) as url, httpx.AsyncClient() as http:
        body = (await http.get(f"{url}/v1/status")).json()
        ticket = app.state.runtime.admission.admit("carrier")
        with ticket:
            during = (await http.get(f"{url}/v1/status")).json()
    assert body["ready"] is True
    assert body["capacity"] == 7
    assert (body["state"], body["draining"]) == ("ready", False)
    assert body["live"] == {}
    assert body["live_total"] == 0
    assert during["live"] == {"carrier": 1}
    assert during["live_total"] == 1
    assert body["rss_mb"] > 10
    memory = body["memory"]
    assert 0 < memory["anon_mb"] <= body["rss_mb"]
    assert memory["malloc_in_use_mb"] > 0  # glibc: this suite runs on Linux
    assert memory["malloc_free_mb"] >= 0
    assert memory["python_blocks"] > 1000
    assert memory["threads"] >= 1
    assert "traced_mb" not in memory  # tracemalloc is off
    assert body["loop_thread"]["cpu_s"] > 0
    assert body["loop_thread"]["waiting_s"] >= 0
    assert body["open_fds"] > 3
    assert body["tasks"] >= 1
    assert "sip" not in body  # SIP is off


async def test_status_needs_a_key_when_keys_are_set() -> None:
    app = create_app(Settings(api_keys=["sk-test"]), engines=fake_engines())
    async with serve_app(app) as url, httpx.AsyncClient() as http:
        refused = await http.get(f"{url}/v1/status")
        allowed = await http.get(f"{url}/v1/status", headers={"Authorization": "Bearer sk-test"})
    assert refused.status_code == 401
    assert allowed.status_code == 200


async def test_status_lists_sip_legs_and_rtp_ports_when_sip_is_on() -> None:
    settings = Settings(api_keys=[], sip_port=0, host="127.0.0.1")
    app = create_app(settings, engines=fake_engines())
    async with serve_app(app) as url, httpx.AsyncClient() as http:
        sip = app.state.runtime.sip
        rtp = await sip.dialogs.bind_rtp()
        during = (await http.get(f"{url}/v1/status")).json()
        await rtp.close()
        after = (await http.get(f"{url}/v1/status")).json()
    assert during["sip"] == {"legs": 0, "rtp_ports": [rtp.port]}
    assert after["sip"] == {"legs": 0, "rtp_ports": []}
