"""The realtime WebSocket door, driven as browsers drive it (no custom headers)."""

from __future__ import annotations

import json

import pytest
import websockets
from conftest import RunningBridge

pytestmark = pytest.mark.slow


async def test_a_browser_asking_for_beta_by_subprotocol_gets_the_beta_dialect(
    bridge: RunningBridge,
) -> None:
    offered = ["realtime", "openai-beta.realtime-v1"]
    async with websockets.connect(f"{bridge.ws_url}/realtime", subprotocols=offered) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "realtime"  # one of those offered comes back
        created = json.loads(await ws.recv())
        assert created["type"] == "session.created"
        # A beta session.update: no "type", beta "modalities". GA would refuse it.
        await ws.send(json.dumps({"type": "session.update", "session": {"modalities": ["text"]}}))
        updated = json.loads(await ws.recv())
        while updated["type"] == "conversation.created":  # beta announces the conversation
            updated = json.loads(await ws.recv())
    assert updated["type"] == "session.updated", updated
    assert updated["session"]["modalities"] == ["text"]
