"""API keys, client secrets and session limits on /v1/realtime."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
import websockets
from conftest import RunningBridge

from bridge.config import Settings
from bridge.realtime.dialect import Dialect
from bridge.testing.realtime_client import connect

pytestmark = pytest.mark.slow
KEY = "sk-bridge-test"


@pytest.fixture
def bridge_settings() -> Settings:
    return Settings(
        api_keys=[KEY, "sk-other"],
        max_calls=2,
        max_message_bytes=64 * 1024,
        max_audio_buffer_s=1.0,
        max_session_s=2.0,
        default_dialplan="agent",
    )


def ws_url(bridge: RunningBridge, query: str = "") -> str:
    return f"{bridge.ws_url}/realtime?model=gpt-realtime{query}"


async def first_event(ws: websockets.ClientConnection) -> dict[str, object]:
    return json.loads(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[no-any-return]


@pytest.mark.parametrize("dialect", [Dialect.BETA, Dialect.GA])
async def test_the_right_bearer_key_is_accepted(bridge: RunningBridge, dialect: Dialect) -> None:
    async with connect(bridge.ws_url, dialect, api_key=KEY) as rt:
        assert (await rt.next_event())["type"] == "session.created"


@pytest.mark.parametrize("dialect", [Dialect.BETA, Dialect.GA])
async def test_a_wrong_key_is_refused(bridge: RunningBridge, dialect: Dialect) -> None:
    with pytest.raises(Exception, match="401"):
        async with connect(bridge.ws_url, dialect, api_key="sk-wrong") as rt:
            await rt.next_event()


async def test_other_credential_carriers_are_accepted(bridge: RunningBridge) -> None:
    async with websockets.connect(ws_url(bridge, f"&api_key={KEY}")) as ws:
        assert (await first_event(ws))["type"] == "session.created"
    async with websockets.connect(ws_url(bridge), additional_headers={"X-API-Key": KEY}) as ws:
        assert (await first_event(ws))["type"] == "session.created"
    protocols = ["realtime", f"openai-insecure-api-key.{KEY}"]
    async with websockets.connect(ws_url(bridge), subprotocols=protocols) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "realtime"  # never the key
        assert (await first_event(ws))["type"] == "session.created"
    with pytest.raises(websockets.InvalidStatus, match="401"):
        async with websockets.connect(ws_url(bridge)):
            pass


async def test_client_secrets_are_minted_used_and_expire(bridge: RunningBridge) -> None:
    async with httpx.AsyncClient(base_url=bridge.url) as http:
        refused = await http.post("/v1/realtime/client_secrets", json={})
        assert refused.status_code == 401
        body = {
            "expires_after": {"anchor": "created_at", "seconds": 60},
            "session": {"type": "realtime", "instructions": "Speak like a pirate."},
        }
        minted = await http.post(
            "/v1/realtime/client_secrets", json=body, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert minted.status_code == 200, minted.text
        secret = minted.json()
        assert secret["value"].startswith("ek_")
        assert secret["session"]["instructions"] == "Speak like a pirate."
        beta = await http.post(
            "/v1/realtime/sessions",
            json={"voice": "ash"},
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert beta.status_code == 200
        assert beta.json()["client_secret"]["value"].startswith("ek_")
        assert beta.json()["voice"] == "ash"
        nested = await http.post(
            "/v1/realtime/client_secrets",
            json={},
            headers={"Authorization": f"Bearer {secret['value']}"},
        )
        assert nested.status_code == 401  # a secret cannot mint secrets

    async with connect(bridge.ws_url, Dialect.GA, api_key=secret["value"]) as rt:
        created = await rt.next_event()
        assert created["session"]["instructions"] == "Speak like a pirate."  # type: ignore[index]

    keys = bridge.app.state.runtime.keys
    keys._clock = lambda: secret["expires_at"] + 1  # an injected clock: the secret has expired
    with pytest.raises(websockets.InvalidStatus, match="401"):
        async with websockets.connect(
            ws_url(bridge), additional_headers={"Authorization": f"Bearer {secret['value']}"}
        ):
            pass


async def test_concurrent_sessions_are_limited(bridge: RunningBridge) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        websockets.connect(ws_url(bridge), additional_headers=headers) as one,
        websockets.connect(ws_url(bridge), additional_headers=headers) as two,
    ):
        await first_event(one)
        await first_event(two)
        # Full: 503 with Retry-After (a load balancer tries another bridge).
        with pytest.raises(websockets.InvalidStatus, match="503") as refused:
            async with websockets.connect(ws_url(bridge), additional_headers=headers):
                pass
        assert refused.value.response.headers["Retry-After"] == "5"
        assert b"session_limit" in refused.value.response.body
    async with websockets.connect(ws_url(bridge), additional_headers=headers) as three:
        assert (await first_event(three))["type"] == "session.created"


async def test_message_and_audio_buffer_limits_give_errors(bridge: RunningBridge) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with websockets.connect(ws_url(bridge), additional_headers=headers, max_size=None) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "session.update",
                    "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
                }
            )
        )
        big = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 70_000})
        await ws.send(big)
        half_second = base64.b64encode(bytes(24_000)).decode()  # pcm16 at 24 kHz
        for _ in range(3):
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": half_second}))
        codes = []
        while len(codes) < 2:
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if event["type"] == "error":
                codes.append(event["error"]["code"])
        assert codes == ["message_too_large", "input_audio_buffer_full"]
        # The session outlives neither its errors nor its maximum duration (2 s here).
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if event["type"] == "error":
                assert event["error"]["code"] == "session_expired"
                break
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
