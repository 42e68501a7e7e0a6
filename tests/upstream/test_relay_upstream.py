"""The relay reads its upstream as a hostile peer: a garbled or absurdly nested frame is skipped
and the upstream's next events still reach the call."""

from __future__ import annotations

import asyncio
import json

import websockets

from bridge.audio.format import PCMU
from bridge.engine import events as ev
from bridge.engine.listener import AssistantAudio
from bridge.upstream.relay import RelayConversation


class QuietListener:
    def heard_ms(self, audio: AssistantAudio) -> float:
        return 0.0

    async def throttle(self, audio: AssistantAudio) -> None:
        return None

    def clear(self) -> None:
        return None


async def test_a_garbled_or_deep_upstream_frame_is_skipped() -> None:
    async def upstream(ws: websockets.ServerConnection) -> None:
        await ws.recv()  # our session.update
        await ws.send("[" * 5000)  # json.loads would raise RecursionError here
        await ws.send("{not json")
        await ws.send(json.dumps({"type": "response.created", "response": {"id": "resp_1"}}))
        await ws.wait_closed()

    events: list[ev.EngineEvent] = []
    created = asyncio.Event()

    def emit(event: ev.EngineEvent) -> None:
        events.append(event)
        if isinstance(event, ev.ResponseCreated):
            created.set()

    async with websockets.serve(upstream, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        relay = RelayConversation(
            url=f"ws://127.0.0.1:{port}",
            api_key="",
            media=PCMU,
            emit=emit,
            listener=QuietListener(),
            instructions="",
            voice="alloy",
        )
        relay.start()
        try:
            async with asyncio.timeout(5):
                await created.wait()
        finally:
            await relay.close()
    (event,) = [e for e in events if isinstance(e, ev.ResponseCreated)]
    assert event.response.id == "resp_1"
    assert relay.responding
