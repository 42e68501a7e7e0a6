"""Client frame parsing: one typed event per client event type, and every way a frame is bad."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bridge.engine.errors import CommandError
from bridge.engine.items import InputTextPart, ItemReference, MessageItem
from bridge.engine.response import ResponseParams
from bridge.realtime.client_events import (
    MAX_APPEND_BYTES,
    ClientEvent,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    OutputAudioBufferClear,
    ResponseCancel,
    ResponseCreate,
    SessionUpdate,
    TranscriptionSessionUpdate,
    client_event_types,
    parse_client_event,
)
from bridge.realtime.dialect import Dialect
from bridge.testing.sdk_validation import validate_client_event

PCM = bytes(range(64))
PCM_B64 = base64.b64encode(PCM).decode()
USER_ITEM = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}


def _cases(dialect: Dialect) -> list[tuple[dict[str, Any], ClientEvent]]:
    session = {"instructions": "x"} if dialect is Dialect.BETA else {"type": "realtime"}
    item = MessageItem(role="user", content=[InputTextPart("hi")], id="item_fixed")
    return [
        (
            {"type": "session.update", "event_id": "e1", "session": session},
            SessionUpdate("e1", session),
        ),
        (
            {"type": "input_audio_buffer.append", "audio": PCM_B64},
            InputAudioBufferAppend(None, PCM),
        ),
        ({"type": "input_audio_buffer.commit", "event_id": "e2"}, InputAudioBufferCommit("e2")),
        ({"type": "input_audio_buffer.clear"}, InputAudioBufferClear(None)),
        (
            {
                "type": "conversation.item.create",
                "event_id": "e3",
                "previous_item_id": "root",
                "item": {**USER_ITEM, "id": "item_fixed"},
            },
            ConversationItemCreate("e3", item, "root"),
        ),
        (
            {"type": "conversation.item.retrieve", "item_id": "item_1"},
            ConversationItemRetrieve(None, "item_1"),
        ),
        (
            {
                "type": "conversation.item.truncate",
                "item_id": "item_1",
                "content_index": 0,
                "audio_end_ms": 1500,
            },
            ConversationItemTruncate(None, "item_1", 0, 1500),
        ),
        (
            {"type": "conversation.item.delete", "item_id": "item_1"},
            ConversationItemDelete(None, "item_1"),
        ),
        ({"type": "response.create"}, ResponseCreate(None, ResponseParams())),
        ({"type": "response.create", "response": None}, ResponseCreate(None, ResponseParams())),
        ({"type": "response.cancel"}, ResponseCancel(None)),
        ({"type": "response.cancel", "response_id": "resp_1"}, ResponseCancel(None, "resp_1")),
        ({"type": "output_audio_buffer.clear", "event_id": "e4"}, OutputAudioBufferClear("e4")),
    ]


@pytest.mark.parametrize("dialect", list(Dialect))
def test_every_client_event_type_parses(dialect: Dialect) -> None:
    cases = _cases(dialect)
    assert {c[0]["type"] for c in cases} | (
        {"transcription_session.update"} if dialect is Dialect.BETA else set()
    ) == set(client_event_types(dialect))
    for payload, expected in cases:
        validate_client_event({k: v for k, v in payload.items() if v is not None}, dialect)
        assert parse_client_event(json.dumps(payload), dialect) == expected


def test_beta_transcription_session_update() -> None:
    frame = {"type": "transcription_session.update", "session": {"input_audio_format": "pcm16"}}
    validate_client_event(frame, Dialect.BETA)
    assert parse_client_event(json.dumps(frame), Dialect.BETA) == TranscriptionSessionUpdate(
        None, {"input_audio_format": "pcm16"}
    )


def test_bytes_frames_are_accepted() -> None:
    frame = json.dumps({"type": "input_audio_buffer.commit"}).encode()
    assert parse_client_event(frame, Dialect.GA) == InputAudioBufferCommit(None)


@pytest.mark.parametrize("dialect", list(Dialect))
def test_response_create_with_parameters(dialect: Dialect) -> None:
    if dialect is Dialect.BETA:
        response: dict[str, Any] = {
            "modalities": ["text"],
            "voice": "ash",
            "output_audio_format": "g711_ulaw",
            "max_response_output_tokens": 200,
        }
    else:
        response = {
            "output_modalities": ["text"],
            "audio": {"output": {"voice": "ash", "format": {"type": "audio/pcmu"}}},
            "max_output_tokens": 200,
        }
    response |= {
        "conversation": "none",
        "instructions": "Summarise.",
        "metadata": {"purpose": "summary"},
        "tool_choice": "none",
        "input": [{"type": "item_reference", "id": "item_1"}, USER_ITEM],
    }
    frame = {"type": "response.create", "event_id": "e9", "response": response}
    # The GA SDK's ResponseCreateEvent model lacks item references (only its
    # ...WithReferencesParam TypedDict has them), so check the fixture without the reference.
    checked = {**frame, "response": {**response, "input": response["input"][1:]}}
    validate_client_event(frame if dialect is Dialect.BETA else checked, dialect)
    event = parse_client_event(json.dumps(frame), dialect)
    assert isinstance(event, ResponseCreate)
    params = event.params
    assert params.conversation == "none"
    assert params.output_modalities == ("text",)
    assert params.voice == "ash"
    assert params.output_audio_format is not None
    assert params.output_audio_format.encoding == "pcmu"
    assert params.max_output_tokens == 200
    assert params.metadata == {"purpose": "summary"}
    assert params.tool_choice == "none"
    assert params.input is not None
    assert params.input[0] == ItemReference("item_1")
    assert isinstance(params.input[1], MessageItem)


INVALID: list[tuple[Dialect, str | bytes, str, str | None, str | None]] = [
    # (dialect, frame, code, param, event_id echoed in the error)
    (Dialect.GA, "{not json", "invalid_json", None, None),
    (Dialect.GA, b"\xff\xfe", "invalid_json", None, None),
    (Dialect.GA, "", "invalid_json", None, None),
    (Dialect.GA, "[1, 2]", "invalid_event", None, None),
    (Dialect.GA, '"session.update"', "invalid_event", None, None),
    (Dialect.GA, '{"event_id": "e1"}', "invalid_event", "type", "e1"),
    (Dialect.GA, '{"type": 7, "event_id": "e1"}', "invalid_event", "type", "e1"),
    (Dialect.GA, '{"type": "session.dance", "event_id": "e1"}', "invalid_event", "type", "e1"),
    (Dialect.GA, '{"type": "response.text.delta"}', "invalid_event", "type", None),
    (
        Dialect.GA,
        '{"type": "transcription_session.update", "session": {}}',
        "invalid_event",
        "type",
        None,
    ),
    (
        Dialect.GA,
        '{"type": "input_audio_buffer.commit", "event_id": 5}',
        "invalid_type",
        "event_id",
        None,
    ),
    (
        Dialect.GA,
        '{"type": "session.update", "event_id": "e2"}',
        "missing_required_parameter",
        "session",
        "e2",
    ),
    (Dialect.BETA, '{"type": "session.update", "session": []}', "invalid_type", "session", None),
    (
        Dialect.BETA,
        '{"type": "transcription_session.update"}',
        "missing_required_parameter",
        "session",
        None,
    ),
    (
        Dialect.BETA,
        '{"type": "input_audio_buffer.append"}',
        "missing_required_parameter",
        "audio",
        None,
    ),
    (
        Dialect.BETA,
        '{"type": "input_audio_buffer.append", "audio": 12}',
        "invalid_type",
        "audio",
        None,
    ),
    (
        Dialect.BETA,
        '{"type": "input_audio_buffer.append", "audio": "@@not-base64@@", "event_id": "e3"}',
        "invalid_value",
        "audio",
        "e3",
    ),
    (
        Dialect.BETA,
        '{"type": "input_audio_buffer.append", "audio": "QUJ"}',
        "invalid_value",
        "audio",
        None,
    ),
    (
        Dialect.GA,
        '{"type": "conversation.item.create"}',
        "missing_required_parameter",
        "item",
        None,
    ),
    (
        Dialect.GA,
        (
            '{"type": "conversation.item.create", "item": {"type": "message", "role": "user"}, '
            '"event_id": "e4"}'
        ),
        "missing_required_parameter",
        "item.content",
        "e4",
    ),
    (
        Dialect.GA,
        (
            '{"type": "conversation.item.create", "item": {"type": "function_call_output", '
            '"call_id": "c", "output": "o"}, "previous_item_id": 3}'
        ),
        "invalid_type",
        "previous_item_id",
        None,
    ),
    (
        Dialect.GA,
        '{"type": "conversation.item.retrieve"}',
        "missing_required_parameter",
        "item_id",
        None,
    ),
    (
        Dialect.GA,
        '{"type": "conversation.item.delete", "item_id": null}',
        "invalid_type",
        "item_id",
        None,
    ),
    (
        Dialect.GA,
        '{"type": "conversation.item.truncate", "item_id": "i", "content_index": 0}',
        "missing_required_parameter",
        "audio_end_ms",
        None,
    ),
    (
        Dialect.GA,
        (
            '{"type": "conversation.item.truncate", "item_id": "i", "content_index": -1, '
            '"audio_end_ms": 5}'
        ),
        "integer_below_min_value",
        "content_index",
        None,
    ),
    (
        Dialect.GA,
        (
            '{"type": "conversation.item.truncate", "item_id": "i", "content_index": 0, '
            '"audio_end_ms": "5"}'
        ),
        "invalid_type",
        "audio_end_ms",
        None,
    ),
    (Dialect.GA, '{"type": "response.create", "response": "go"}', "invalid_type", "response", None),
    (
        Dialect.GA,
        '{"type": "response.create", "response": {"conversation": "mine"}, "event_id": "e5"}',
        "invalid_value",
        "response.conversation",
        "e5",
    ),
    (
        Dialect.GA,
        '{"type": "response.create", "response": {"input": [{"type": "item_reference"}]}}',
        "missing_required_parameter",
        "response.input[0].id",
        None,
    ),
    (
        Dialect.GA,
        (
            '{"type": "response.create", "response": {"input": [{"type": "message", '
            '"role": "user", '
            '"content": [{"type": "input_text"}]}]}}'
        ),
        "missing_required_parameter",
        "response.input[0].content[0].text",
        None,
    ),
    (
        Dialect.GA,
        (
            '{"type": "response.create", '
            '"response": {"audio": {"output": {"format": {"type": "audio/aac"}}}}}'
        ),
        "invalid_value",
        "response.audio.output.format.type",
        None,
    ),
    (
        Dialect.BETA,
        '{"type": "response.create", "response": {"max_response_output_tokens": 0}}',
        "integer_below_min_value",
        "response.max_response_output_tokens",
        None,
    ),
    (
        Dialect.BETA,
        '{"type": "response.create", "response": {"metadata": {"k": 1}}}',
        "invalid_type",
        "response.metadata.k",
        None,
    ),
    (
        Dialect.BETA,
        '{"type": "response.cancel", "response_id": 1}',
        "invalid_type",
        "response_id",
        None,
    ),
]


@pytest.mark.parametrize(
    ("dialect", "frame", "code", "param", "event_id"),
    INVALID,
    ids=[f"{i}-{case[2]}-{case[3]}" for i, case in enumerate(INVALID)],
)
def test_bad_frames(
    dialect: Dialect, frame: str | bytes, code: str, param: str | None, event_id: str | None
) -> None:
    with pytest.raises(CommandError) as caught:
        parse_client_event(frame, dialect)
    error = caught.value
    assert (error.code, error.param, error.event_id) == (code, param, event_id)
    assert error.type == "invalid_request_error"
    assert error.message


def test_unknown_type_lists_the_supported_ones() -> None:
    with pytest.raises(CommandError) as caught:
        parse_client_event('{"type": "transcription_session.update"}', Dialect.GA)
    assert "'session.update'" in caught.value.message
    assert "transcription_session.update'." not in caught.value.message.split("Supported")[1]


def test_oversized_append_is_rejected() -> None:
    audio = base64.b64encode(bytes(MAX_APPEND_BYTES + 2)).decode()
    frame = json.dumps({"type": "input_audio_buffer.append", "audio": audio})
    with pytest.raises(CommandError) as caught:
        parse_client_event(frame, Dialect.GA)
    assert caught.value.param == "audio"
    assert len(caught.value.message) < 200


def test_unknown_fields_on_events_are_ignored() -> None:
    frame = '{"type": "input_audio_buffer.clear", "event_id": "e", "extra": {"a": 1}}'
    assert parse_client_event(frame, Dialect.BETA) == InputAudioBufferClear("e")
