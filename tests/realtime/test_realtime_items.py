"""Conversation items: parsing conversation.item.create and rendering in both dialects."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from bridge.engine.errors import CommandError
from bridge.engine.events import ConversationItemAdded, ConversationItemRetrieved
from bridge.engine.items import (
    AudioPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioPart,
    InputTextPart,
    Item,
    MessageItem,
    TextPart,
)
from bridge.realtime.dialect import Dialect
from bridge.realtime.events import render_event
from bridge.realtime.items import parse_client_item, render_item
from bridge.testing.sdk_validation import validate_client_event, validate_server_event

PCM = b"\x01\x00\x02\x00" * 8
PCM_B64 = base64.b64encode(PCM).decode()


def _assistant(dialect: Dialect) -> dict[str, Any]:
    text, audio = ("text", "audio") if dialect is Dialect.BETA else ("output_text", "output_audio")
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": text, "text": "Hi!"}, {"type": audio, "transcript": "Hi!"}],
    }


COMMON_ITEMS: list[tuple[dict[str, Any], Item]] = [
    (
        {
            "type": "message",
            "role": "user",
            "id": "msg_client_1",
            "content": [
                {"type": "input_text", "text": "What's the weather?"},
                {"type": "input_audio", "audio": PCM_B64, "transcript": "weather?"},
            ],
        },
        MessageItem(
            role="user",
            id="msg_client_1",
            content=[
                InputTextPart("What's the weather?"),
                InputAudioPart(audio=PCM, transcript="weather?"),
            ],
        ),
    ),
    (
        {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Be terse."}],
        },
        MessageItem(role="system", content=[InputTextPart("Be terse.")]),
    ),
    (
        {
            "type": "function_call",
            "call_id": "call_abc",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
        },
        FunctionCallItem(name="get_weather", arguments='{"city": "Oslo"}', call_id="call_abc"),
    ),
    (
        {"type": "function_call_output", "call_id": "call_abc", "output": '{"temp": 3}'},
        FunctionCallOutputItem(call_id="call_abc", output='{"temp": 3}'),
    ),
]


@pytest.mark.parametrize("dialect", list(Dialect))
@pytest.mark.parametrize(("payload", "expected"), COMMON_ITEMS, ids=lambda v: str(v)[:30])
def test_parse_common_items(dialect: Dialect, payload: dict[str, Any], expected: Item) -> None:
    validate_client_event({"type": "conversation.item.create", "item": payload}, dialect)
    item = parse_client_item(payload, dialect)
    if "id" not in payload:
        assert item.id.startswith("item_")
        assert len(item.id) == 26
        item.id = expected.id
    assert item == expected


@pytest.mark.parametrize("dialect", list(Dialect))
def test_parse_assistant_message(dialect: Dialect) -> None:
    payload = _assistant(dialect)
    validate_client_event({"type": "conversation.item.create", "item": payload}, dialect)
    item = parse_client_item(payload, dialect)
    assert isinstance(item, MessageItem)
    assert item.content == [TextPart("Hi!"), AudioPart(transcript="Hi!")]
    # The other dialect's spelling of assistant parts is tolerated.
    other = Dialect.GA if dialect is Dialect.BETA else Dialect.BETA
    assert parse_client_item(_assistant(other), dialect).content == item.content  # type: ignore[union-attr]


@pytest.mark.parametrize("dialect", list(Dialect))
@pytest.mark.parametrize("payload", [p for p, _ in COMMON_ITEMS], ids=lambda v: v["type"])
def test_render_parse_round_trip(dialect: Dialect, payload: dict[str, Any]) -> None:
    item = parse_client_item(payload, dialect)
    rendered = render_item(item, dialect, include_audio=True)
    assert rendered["object"] == "realtime.item"
    again = parse_client_item(rendered, dialect)
    assert again == item
    for event in (ConversationItemAdded(item), ConversationItemRetrieved(item)):
        validate_server_event(render_event(event, dialect), dialect)  # type: ignore[arg-type]


def test_assistant_part_types_per_dialect() -> None:
    item = MessageItem(role="assistant", content=[TextPart("a"), AudioPart("b", audio=PCM)])
    beta = render_item(item, Dialect.BETA)
    ga = render_item(item, Dialect.GA)
    assert [p["type"] for p in beta["content"]] == ["text", "audio"]
    assert [p["type"] for p in ga["content"]] == ["output_text", "output_audio"]
    assert "audio" not in ga["content"][1]
    assert render_item(item, Dialect.GA, include_audio=True)["content"][1]["audio"] == (
        base64.b64encode(PCM).decode()
    )


def test_input_audio_without_transcript_renders_null() -> None:
    item = MessageItem(role="user", content=[InputAudioPart(audio=PCM)], status="in_progress")
    rendered = render_item(item, Dialect.GA)
    assert rendered["status"] == "in_progress"
    assert rendered["content"] == [{"type": "input_audio", "transcript": None}]


def test_function_call_gets_a_call_id_when_the_client_gives_none() -> None:
    item = parse_client_item({"type": "function_call", "name": "f"}, Dialect.BETA)
    assert isinstance(item, FunctionCallItem)
    assert item.call_id.startswith("call_")
    assert item.arguments == ""


INVALID: list[tuple[Dialect, Any, str, str]] = [
    (Dialect.GA, "message", "invalid_type", "item"),
    (Dialect.GA, {"role": "user", "content": []}, "missing_required_parameter", "item.type"),
    (Dialect.GA, {"type": "image"}, "invalid_value", "item.type"),
    (Dialect.GA, {"type": "message", "content": []}, "missing_required_parameter", "item.role"),
    (Dialect.GA, {"type": "message", "role": "tool", "content": []}, "invalid_value", "item.role"),
    (Dialect.GA, {"type": "message", "role": "user"}, "missing_required_parameter", "item.content"),
    (
        Dialect.GA,
        {"type": "message", "role": "user", "content": {"type": "input_text"}},
        "invalid_type",
        "item.content",
    ),
    (
        Dialect.BETA,
        {"type": "message", "role": "user", "content": [{"text": "hi"}]},
        "missing_required_parameter",
        "item.content[0].type",
    ),
    (
        Dialect.BETA,
        {"type": "message", "role": "assistant", "content": [{"type": "input_text", "text": "x"}]},
        "invalid_value",
        "item.content[0].type",
    ),
    (
        Dialect.GA,
        {"type": "message", "role": "system", "content": [{"type": "input_audio", "audio": ""}]},
        "invalid_value",
        "item.content[0].type",
    ),
    (
        Dialect.GA,
        {"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": "x"}]},
        "invalid_value",
        "item.content[0].type",
    ),
    (
        Dialect.GA,
        {"type": "message", "role": "user", "content": [{"type": "input_text"}]},
        "missing_required_parameter",
        "item.content[0].text",
    ),
    (
        Dialect.GA,
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": 3}]},
        "invalid_type",
        "item.content[0].text",
    ),
    (
        Dialect.BETA,
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "%%%"}]},
        "invalid_value",
        "item.content[0].audio",
    ),
    (
        Dialect.GA,
        {"type": "message", "role": "user", "content": [], "id": "x" * 33},
        "string_above_max_length",
        "item.id",
    ),
    (
        Dialect.GA,
        {"type": "message", "role": "user", "content": [], "status": "done"},
        "invalid_value",
        "item.status",
    ),
    (
        Dialect.GA,
        {"type": "function_call", "arguments": "{}"},
        "missing_required_parameter",
        "item.name",
    ),
    (
        Dialect.GA,
        {"type": "function_call", "name": "f", "arguments": {}},
        "invalid_type",
        "item.arguments",
    ),
    (
        Dialect.BETA,
        {"type": "function_call_output", "output": "x"},
        "missing_required_parameter",
        "item.call_id",
    ),
    (
        Dialect.BETA,
        {"type": "function_call_output", "call_id": "c"},
        "missing_required_parameter",
        "item.output",
    ),
]


@pytest.mark.parametrize(
    ("dialect", "payload", "code", "param"), INVALID, ids=[f"{c[3]}-{c[2]}" for c in INVALID]
)
def test_invalid_items(dialect: Dialect, payload: Any, code: str, param: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_client_item(payload, dialect)
    assert (caught.value.code, caught.value.param) == (code, param)


def test_bad_base64_error_does_not_echo_the_payload() -> None:
    junk = "not base64!" * 1000
    payload = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio": junk}],
    }
    with pytest.raises(CommandError) as caught:
        parse_client_item(payload, Dialect.GA)
    assert len(caught.value.message) < 200
