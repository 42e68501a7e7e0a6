"""/v1/realtime over WebRTC, end to end: a real aiortc client against a running bridge on
loopback (GA and beta flows, speech, text and tools, clear, sideband, hang-up)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import websockets
from conftest import RunningBridge

from bridge.audio import StreamResampler
from bridge.config import Settings
from bridge.pipeline.stt import SpeechToText
from bridge.realtime.dialect import Dialect
from bridge.testing.sdk_validation import validate_server_event
from bridge.testing.speech import contains_phrase, silence_pcm
from bridge.testing.webrtc_client import WebRTCClient

pytestmark = pytest.mark.slow
KEY = "sk-test"
AUTH = {"Authorization": f"Bearer {KEY}"}
QUESTION = "What are your opening hours?"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("aioice.ice.get_host_addresses", lambda **_: ["127.0.0.1"])


@pytest.fixture
def bridge_settings() -> Settings:
    return Settings(
        api_keys=[KEY],
        vad_silence_ms=500,
        default_dialplan="agent",
        cors_origins=["https://app.example"],
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


async def ga_secret(http: httpx.AsyncClient, session: dict[str, Any] | None = None) -> str:
    body = {"session": session or {"type": "realtime"}}
    reply = await http.post("/v1/realtime/client_secrets", json=body, headers=AUTH)
    assert reply.status_code == 200, reply.text
    secret: str = reply.json()["value"]
    assert secret.startswith("ek_")
    return secret


def poster(
    http: httpx.AsyncClient, path: str, key: str, seen: dict[str, Any]
) -> Callable[[str], Any]:
    async def post(offer: str) -> str:
        reply = await http.post(
            path,
            content=offer,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"},
        )
        seen["reply"] = reply
        assert reply.status_code == 201, reply.text
        return reply.text

    return post


def validate_all(events: list[dict[str, Any]], dialect: Dialect) -> None:
    for event in events:
        validate_server_event(event, dialect)
        assert "audio.delta" not in event["type"], "audio deltas never go on the data channel"


async def ga_call(http: httpx.AsyncClient, client: WebRTCClient, **kwargs: Any) -> str:
    seen: dict[str, Any] = {}
    secret = await ga_secret(http, kwargs.pop("session", None))
    await client.connect(poster(http, "/v1/realtime/calls", secret, seen), **kwargs)
    location = seen["reply"].headers["location"]
    assert location.startswith("/v1/realtime/calls/rtc_")
    return str(location.rsplit("/", 1)[1])


async def ended(bridge: RunningBridge, call_id: str) -> None:
    """Wait until the call is gone from the bridge, then check nothing of it is left."""
    calls = bridge.app.state.runtime.webrtc
    call = calls.calls.get(call_id)
    if call is not None:
        async with asyncio.timeout(10):
            await call.ended.wait()
    await asyncio.gather(*list(calls._tasks), return_exceptions=True)
    assert call_id not in calls.calls
    assert len(calls.peers) == 0
    assert bridge.app.state.runtime.admission.total == 0
    if call is not None:
        assert not call.peer.tasks


async def test_ga_spoken_question_is_answered_and_hangup_frees_everything(
    bridge: RunningBridge,
    http: httpx.AsyncClient,
    client: WebRTCClient,
    speak: Callable[[str, int], bytes],
    stt: SpeechToText,
) -> None:
    session = {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}
    call_id = await ga_call(http, client, session=session)
    await client.next_event("session.created")
    client.say(silence_pcm(300, 24_000) + speak(QUESTION, 24_000) + silence_pcm(900, 24_000))
    done = await client.next_event("response.done", within=60)
    assert done["response"]["status"] == "completed"
    await client.next_event("output_audio_buffer.stopped", within=30)
    types = [e["type"] for e in client.all_events]
    assert types.index("response.content_part.added") < types.index("output_audio_buffer.started")
    assert types.index("response.done") < types.index("output_audio_buffer.stopped")
    heard = next(
        e for e in client.all_events if e["type"].endswith("input_audio_transcription.completed")
    )
    assert contains_phrase(heard["transcript"], "opening hours"), heard["transcript"]
    reply = StreamResampler(48_000, 16_000).process(client.audio_since(0))
    text = (await stt.transcribe(reply)).text
    assert contains_phrase(text, "nine in the morning"), text
    validate_all(client.all_events, Dialect.GA)

    hung = await http.post(f"/v1/realtime/calls/{call_id}/hangup", headers=AUTH)
    assert hung.status_code == 200
    await ended(bridge, call_id)
    assert client.pc.connectionState in ("closed", "failed", "connected")


async def test_beta_flow_text_and_tool_turns_with_a_candidate_free_offer(
    bridge: RunningBridge, http: httpx.AsyncClient, client: WebRTCClient
) -> None:
    minted = await http.post("/v1/realtime/sessions", json={"modalities": ["text"]}, headers=AUTH)
    secret = minted.json()["client_secret"]["value"]
    seen: dict[str, Any] = {}
    await client.connect(
        poster(http, "/v1/realtime?model=gpt-4o-realtime-preview", secret, seen), strip=True
    )
    await client.next_event("session.created")
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    client.send({"type": "session.update", "session": {"tools": tools}})
    await client.next_event("session.updated")
    for text in ("What are your hours?", "What is the weather like?"):
        client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
        client.send({"type": "response.create"})
        done = await client.next_event("response.done")
        assert done["response"]["status"] == "completed"
    outputs = [e for e in client.all_events if e["type"] == "response.done"]
    first = outputs[0]["response"]["output"][0]["content"][0]
    assert "nine in the morning" in first["text"]
    call = outputs[1]["response"]["output"][0]
    assert call["type"] == "function_call"
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "Paris"}
    validate_all(client.all_events, Dialect.BETA)
    call_id = seen["reply"].headers["location"].rsplit("/", 1)[1]
    await client.close()  # the peer going away ends the call too
    await ended(bridge, call_id)


async def test_output_audio_buffer_clear_silences_at_once_and_truncates_at_what_was_sent(
    bridge: RunningBridge, http: httpx.AsyncClient, client: WebRTCClient
) -> None:
    call_id = await ga_call(http, client)
    await client.next_event("session.created")
    client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Tell me a long story."}],
            },
        }
    )
    client.send({"type": "response.create"})
    started = await client.next_event("output_audio_buffer.started")
    await client.wait_audio(1000)
    call = bridge.app.state.runtime.webrtc.calls[call_id]
    client.send({"type": "response.cancel"})  # as agents-js does, then the clear
    asked = time.monotonic()
    client.send({"type": "output_audio_buffer.clear"})
    cleared = await client.next_event("output_audio_buffer.cleared")
    sent_ms = call.peer.track.sent_ms
    assert cleared["response_id"] == started["response_id"]
    truncated = await client.next_event("conversation.item.truncated")
    assert truncated["item_id"] == cleared_item(client.all_events)
    assert abs(truncated["audio_end_ms"] - sent_ms) <= 25
    assert call.peer.track.sent_ms == sent_ms  # nothing more of the reply went out
    # Listen on for a second: from 200 ms after the clear on, only silence arrives.
    await client.wait_received_until(asked + 1.0)
    late = client.loud_since(asked + 0.2)
    assert late == 0, f"{late} ms of the reply arrived more than 200 ms after the clear"
    assert client.loud_since(asked - 0.5) > 0  # it was talking until then
    validate_all(client.all_events, Dialect.GA)
    await http.post(f"/v1/realtime/calls/{call_id}/hangup", headers=AUTH)
    await ended(bridge, call_id)


async def until_closed(socket: websockets.ClientConnection) -> None:
    """Read until the bridge closes the socket (the call ended)."""
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            await socket.recv()


def cleared_item(events: list[dict[str, Any]]) -> str:
    added = next(e for e in events if e["type"] == "response.output_item.added")
    return str(added["item"]["id"])


async def test_sideband_sees_the_events_and_its_session_update_takes_effect(
    bridge: RunningBridge, http: httpx.AsyncClient, client: WebRTCClient
) -> None:
    seen: dict[str, Any] = {}

    async def multipart(offer: str) -> str:  # GA's other shape: parts sdp and session
        session = {"type": "realtime", "instructions": "Be brief."}
        reply = await http.post(
            "/v1/realtime/calls",
            files={"sdp": (None, offer), "session": (None, json.dumps(session))},
            headers=AUTH,
        )
        seen["reply"] = reply
        assert reply.status_code == 201, reply.text
        return reply.text

    await client.connect(multipart)
    call_id = seen["reply"].headers["location"].rsplit("/", 1)[1]
    created = await client.next_event("session.created")
    assert created["session"]["instructions"] == "Be brief."
    url = bridge.ws_url.replace("/v1", "") + f"/v1/realtime?call_id={call_id}"
    async with websockets.connect(url, additional_headers=AUTH) as sideband:
        update = {"type": "session.update", "session": {"type": "realtime", "instructions": "Hi"}}
        await sideband.send(json.dumps(update))
        event = json.loads(await asyncio.wait_for(sideband.recv(), 10))
        assert event["type"] == "session.updated"
        assert event["session"]["instructions"] == "Hi"
        validate_server_event(event, Dialect.GA)
        on_channel = await client.next_event("session.updated")
        assert on_channel["session"]["instructions"] == "Hi"
        assert bridge.app.state.runtime.webrtc.calls[call_id].session.config.instructions == "Hi"
        await http.post(f"/v1/realtime/calls/{call_id}/hangup", headers=AUTH)
        async with asyncio.timeout(10):
            await until_closed(sideband)
    await ended(bridge, call_id)
