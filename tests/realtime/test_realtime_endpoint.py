"""/v1/realtime driven by the real openai client over a loopback socket, in both dialects."""

from __future__ import annotations

import json

import pytest
from conftest import RunningBridge

from bridge.realtime.dialect import Dialect
from bridge.testing.realtime_client import connect

pytestmark = pytest.mark.slow
DIALECTS = [Dialect.BETA, Dialect.GA]
TEXT_DELTA = {Dialect.BETA: "response.text.delta", Dialect.GA: "response.output_text.delta"}


def text_only(dialect: Dialect) -> dict[str, object]:
    if dialect is Dialect.BETA:
        return {"modalities": ["text"]}
    return {"type": "realtime", "output_modalities": ["text"]}


def user_text(text: str) -> dict[str, object]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_text_turn(bridge: RunningBridge, dialect: Dialect) -> None:
    async with connect(bridge.ws_url, dialect) as rt:
        created = await rt.until("session.created")
        assert created[-1]["session"]["id"].startswith("sess_")
        await rt.send({"type": "session.update", "session": text_only(dialect)})
        await rt.until("session.updated")
        await rt.send(user_text("What are your hours?"))
        await rt.send({"type": "response.create"})
        events = await rt.until("response.done")
    deltas = "".join(e["delta"] for e in events if e["type"] == TEXT_DELTA[dialect])
    assert deltas == "We are open from nine in the morning until five in the evening."
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["text"] == deltas
    assert done["usage"]["output_tokens"] > 0
    request = bridge.llm.requests[-1]
    assert request["messages"][-1] == {"role": "user", "content": "What are your hours?"}
    types = [e["type"] for e in events]
    first_delta = types.index(TEXT_DELTA[dialect])
    assert types.index("response.created") < types.index("response.output_item.added") < first_delta
    assert types.index("response.content_part.added") < first_delta


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_bad_input_gets_error_events_and_the_socket_stays_open(
    bridge: RunningBridge, dialect: Dialect
) -> None:
    async with connect(bridge.ws_url, dialect) as rt:
        await rt.until("session.created")
        cases = [
            ("{not json", "invalid_json", None),
            (json.dumps({"type": "no.such.event", "event_id": "evt_1"}), "invalid_event", "evt_1"),
            (
                json.dumps(
                    {"type": "input_audio_buffer.append", "event_id": "evt_2", "audio": "%%%"}
                ),
                "invalid_value",
                "evt_2",
            ),
            (
                json.dumps(
                    {"type": "conversation.item.retrieve", "event_id": "evt_3", "item_id": "item_x"}
                ),
                "invalid_value",
                "evt_3",
            ),
            (
                json.dumps({"type": "response.cancel", "event_id": "evt_4"}),
                "response_cancel_not_active",
                "evt_4",
            ),
            (
                json.dumps({"type": "input_audio_buffer.commit", "event_id": "evt_5"}),
                "input_audio_buffer_commit_empty",
                "evt_5",
            ),
        ]
        for frame, code, event_id in cases:
            await rt.send_raw(frame)
            error = (await rt.until("error"))[-1]
            assert error["error"]["code"] == code, error
            assert error["error"]["event_id"] == event_id
        await rt.send({"type": "session.update", "session": text_only(dialect)})
        assert (await rt.until("session.updated"))[-1]["type"] == "session.updated"
