"""Conversation editing, function calling and session limits over /v1/realtime."""

from __future__ import annotations

import json

import pytest
from conftest import RunningBridge

from bridge.realtime.dialect import Dialect
from bridge.testing.realtime_client import connect

pytestmark = pytest.mark.slow


def message(role: str, text: str, item_id: str | None = None) -> dict[str, object]:
    kind = "input_text" if role != "assistant" else "text"
    item: dict[str, object] = {
        "type": "message",
        "role": role,
        "content": [{"type": kind, "text": text}],
    }
    if item_id:
        item["id"] = item_id
    return item


@pytest.mark.parametrize("dialect", [Dialect.BETA, Dialect.GA])
async def test_function_call_round_trip(bridge: RunningBridge, dialect: Dialect) -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    session: dict[str, object] = {"tools": [tool], "tool_choice": "auto"}
    session |= (
        {"modalities": ["text"]}
        if dialect is Dialect.BETA
        else {
            "type": "realtime",
            "output_modalities": ["text"],
        }
    )
    async with connect(bridge.ws_url, dialect) as rt:
        await rt.send({"type": "session.update", "session": session})
        await rt.until("session.updated")
        await rt.send(
            {"type": "conversation.item.create", "item": message("user", "Weather in Paris?")}
        )
        await rt.send({"type": "response.create"})
        events = await rt.until("response.done")
        (call,) = events[-1]["response"]["output"]
        assert call["type"] == "function_call"
        assert call["name"] == "get_weather"
        assert json.loads(call["arguments"]) == {"city": "Paris"}
        deltas = [e for e in events if e["type"] == "response.function_call_arguments.delta"]
        assert "".join(d["delta"] for d in deltas) == call["arguments"]
        done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert done["call_id"] == call["call_id"]
        assert bridge.llm.requests[-1]["tools"][0]["function"]["name"] == "get_weather"

        output = {
            "type": "function_call_output",
            "call_id": call["call_id"],
            "output": '{"sky": "sunny"}',
        }
        await rt.send({"type": "conversation.item.create", "item": output})
        await rt.send({"type": "response.create"})
        events = await rt.until("response.done")
    final = events[-1]["response"]["output"][0]["content"][0]["text"]
    assert final == "It is sunny in Paris today."
    messages = bridge.llm.requests[-1]["messages"]
    assert messages[-2]["tool_calls"][0]["id"] == call["call_id"]
    assert messages[-1] == {
        "role": "tool",
        "tool_call_id": call["call_id"],
        "content": '{"sky": "sunny"}',
    }


async def test_items_are_positioned_retrieved_and_deleted(bridge: RunningBridge) -> None:
    async with connect(bridge.ws_url, Dialect.BETA) as rt:
        await rt.send({"type": "session.update", "session": {"modalities": ["text"]}})
        await rt.until("session.updated")
        await rt.send(
            {"type": "conversation.item.create", "item": message("user", "first", "item_a")}
        )
        await rt.send(
            {"type": "conversation.item.create", "item": message("user", "third", "item_c")}
        )
        await rt.send(
            {
                "type": "conversation.item.create",
                "previous_item_id": "item_a",
                "item": message("assistant", "second", "item_b"),
            }
        )
        created = (await rt.until("conversation.item.created"))[-1]
        while created["item"]["id"] != "item_b":
            created = (await rt.until("conversation.item.created"))[-1]
        assert created["previous_item_id"] == "item_a"
        await rt.send(
            {
                "type": "conversation.item.create",
                "previous_item_id": "root",
                "item": message("system", "zeroth", "item_0"),
            }
        )
        await rt.send({"type": "conversation.item.delete", "item_id": "item_c"})
        await rt.until("conversation.item.deleted")
        await rt.send({"type": "conversation.item.retrieve", "item_id": "item_b"})
        retrieved = (await rt.until("conversation.item.retrieved"))[-1]
        assert retrieved["item"]["content"][0]["text"] == "second"
        await rt.send({"type": "response.create", "response": {"instructions": "Be terse."}})
        await rt.until("response.done")
    messages = bridge.llm.requests[-1]["messages"]
    assert messages == [
        {"role": "system", "content": "Be terse."},
        {"role": "system", "content": "zeroth"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "second"},
    ]


async def test_out_of_band_response_leaves_the_conversation_alone(bridge: RunningBridge) -> None:
    async with connect(bridge.ws_url, Dialect.GA) as rt:
        await rt.send(
            {"type": "conversation.item.create", "item": message("user", "hello", "item_u")}
        )
        await rt.send(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "output_modalities": ["text"],
                    "metadata": {"purpose": "classify"},
                    "input": [message("user", "What are your hours?")],
                },
            }
        )
        events = await rt.until("response.done")
        done = events[-1]["response"]
        assert done["conversation_id"] is None
        assert done["metadata"] == {"purpose": "classify"}
        assert not any(
            e["type"] == "conversation.item.added" and e["item"]["role"] == "assistant"
            for e in events
        )
        assert bridge.llm.requests[-1]["messages"][-1] == {
            "role": "user",
            "content": "What are your hours?",
        }
        await rt.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        events = await rt.until("response.done")
    assert [m["content"] for m in bridge.llm.requests[-1]["messages"][1:]] == ["hello"]


async def test_second_response_while_one_is_active_is_refused(bridge: RunningBridge) -> None:
    async with connect(bridge.ws_url, Dialect.BETA) as rt:
        await rt.send(
            {"type": "conversation.item.create", "item": message("user", "Tell me a long story.")}
        )
        await rt.send({"type": "response.create"})
        await rt.until("response.created")
        await rt.send({"type": "response.create", "event_id": "evt_again"})
        error = (await rt.until("error"))[-1]["error"]
        assert error["code"] == "conversation_already_has_active_response"
        assert error["event_id"] == "evt_again"
        await rt.send({"type": "response.cancel"})
        done = (await rt.until("response.done"))[-1]
    assert done["response"]["status"] == "cancelled"


@pytest.mark.parametrize(
    ("event", "code", "param"),
    [
        (
            {"type": "session.update", "session": {"input_audio_format": "mp3"}},
            "invalid_value",
            "session.input_audio_format",
        ),
        (
            {
                "type": "session.update",
                "session": {"turn_detection": {"type": "server_vad", "threshold": 2}},
            },
            "decimal_above_max_value",
            "session.turn_detection.threshold",
        ),
        ({"type": "conversation.item.create"}, "missing_required_parameter", "item"),
        (
            {
                "type": "conversation.item.truncate",
                "item_id": "nope",
                "content_index": 0,
                "audio_end_ms": 10,
            },
            "invalid_value",
            "item_id",
        ),
        ({"type": "conversation.item.delete", "item_id": "nope"}, "invalid_value", "item_id"),
        (
            {
                "type": "conversation.item.create",
                "previous_item_id": "nope",
                "item": message("user", "x"),
            },
            "invalid_value",
            "previous_item_id",
        ),
        (
            {"type": "input_audio_buffer.append", "audio": "UklGRgAAAABXQVZFZm10IA=="},
            "invalid_value",
            "audio",
        ),
        (
            {"type": "input_audio_buffer.append", "audio": "AA=="},
            "invalid_value",
            "audio",
        ),
    ],
)
async def test_invalid_events_are_refused_without_changing_the_session(
    bridge: RunningBridge, event: dict[str, object], code: str, param: str
) -> None:
    async with connect(bridge.ws_url, Dialect.BETA) as rt:
        created = (await rt.until("session.created"))[-1]["session"]
        await rt.send({**event, "event_id": "evt_bad"})
        error = (await rt.until("error"))[-1]["error"]
        assert (error["code"], error["param"], error["event_id"]) == (code, param, "evt_bad")
        await rt.send({"type": "session.update", "session": {}})
        after = (await rt.until("session.updated"))[-1]["session"]
    assert after == created
