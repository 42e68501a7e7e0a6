"""Every server event, rendered in both dialects, must parse with the openai SDK's own types."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.audio.format import PCMA, PCMU
from bridge.engine.config import (
    FunctionChoice,
    FunctionTool,
    InputTranscription,
    SemanticVad,
    ServerVad,
    SessionConfig,
)
from bridge.engine.errors import CommandError
from bridge.engine.events import (
    ConversationCreated,
    ConversationItemAdded,
    ConversationItemDeleted,
    ConversationItemDone,
    ConversationItemRetrieved,
    ConversationItemTruncated,
    EngineEvent,
    ErrorEvent,
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferTimeoutTriggered,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
    OutputAudioBufferCleared,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    RateLimit,
    RateLimitsUpdated,
    ResponseAudioDelta,
    ResponseAudioDone,
    ResponseAudioTranscriptDelta,
    ResponseAudioTranscriptDone,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseTextDelta,
    ResponseTextDone,
    SessionCreated,
    SessionUpdated,
)
from bridge.engine.items import (
    AudioPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioPart,
    InputTextPart,
    MessageItem,
    TextPart,
)
from bridge.engine.response import Response, ResponseError, Usage
from bridge.realtime.dialect import Dialect
from bridge.realtime.events import WIRE_TYPES, render_event, render_events
from bridge.testing.sdk_validation import SDK_UNION_GAPS, server_event_types, validate_server_event

RESP = "resp_001"
ITEM = "item_001"
WEATHER = FunctionTool(
    name="get_weather",
    description="Weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)

CONFIGS = {
    "default": SessionConfig(),
    "text_g711_semantic": SessionConfig(
        output_modalities=("text",),
        input_audio_format=PCMU,
        output_audio_format=PCMA,
        turn_detection=SemanticVad(eagerness="high", interrupt_response=False),
        input_transcription=InputTranscription("whisper-1", "en", "names"),
        tools=(WEATHER,),
        tool_choice="required",
        max_output_tokens=512,
        instructions="Be brief.",
        voice="verse",
    ),
    "manual_turns": SessionConfig(turn_detection=None, temperature=1.0, speed=1.25),
    "idle_timeout": SessionConfig(turn_detection=ServerVad(idle_timeout_ms=6000)),
    "transcription": SessionConfig(
        kind="transcription",
        input_transcription=InputTranscription("gpt-4o-transcribe", "de"),
        output_modalities=("text",),
    ),
    "transcription_semantic": SessionConfig(
        kind="transcription", turn_detection=SemanticVad(), input_transcription=None
    ),
}


def _assistant_audio() -> MessageItem:
    return MessageItem(
        role="assistant",
        content=[AudioPart(transcript="Hi there", audio=b"\x01\x02")],
        id=ITEM,
        status="in_progress",
    )


def _items() -> list[Any]:
    return [
        _assistant_audio(),
        MessageItem(role="assistant", content=[TextPart("Hello")], id="item_002"),
        MessageItem(
            role="user",
            content=[InputAudioPart(audio=b"\x00\x00", transcript=None), InputTextPart("hey")],
        ),
        MessageItem(role="system", content=[InputTextPart("Be kind.")]),
        FunctionCallItem(name="get_weather", arguments='{"city":"Oslo"}', call_id="call_1"),
        FunctionCallOutputItem(call_id="call_1", output='{"temp": 3}'),
    ]


def _responses() -> list[Response]:
    base = Response(
        output_modalities=("audio",),
        output_audio_format=PCMU,
        voice="alloy",
        max_output_tokens="inf",
        temperature=0.8,
        conversation_id="conv_1",
        id=RESP,
    )
    return [
        base,
        replace(
            base,
            status="completed",
            output=_items(),
            usage=Usage(10, 20, 5, 7, 30),
            metadata={"topic": "weather"},
        ),
        replace(base, status="cancelled", reason="turn_detected", conversation_id=None),
        replace(base, status="incomplete", reason="max_output_tokens", max_output_tokens=1),
        replace(base, status="failed", error=ResponseError("server_error", "llm_down", "boom")),
        replace(base, output_modalities=("text",)),
    ]


def _samples() -> list[EngineEvent]:
    at: dict[str, Any] = {
        "response_id": RESP,
        "item_id": ITEM,
        "output_index": 0,
        "content_index": 0,
    }
    events: list[EngineEvent] = []
    for config in CONFIGS.values():
        events += [
            SessionCreated(config, "sess_1"),
            SessionUpdated(config, "sess_1", expires_at=1_700_000_000),
        ]
    events.append(ConversationCreated("conv_1"))
    for item in _items():
        events += [
            ConversationItemAdded(item, previous_item_id="item_000"),
            ConversationItemAdded(item),
            ConversationItemDone(item, previous_item_id=None),
            ConversationItemRetrieved(item),
            ResponseOutputItemAdded(RESP, 0, item),
            ResponseOutputItemDone(RESP, 1, item),
        ]
    events += [
        ConversationItemTruncated(ITEM, 0, 1500),
        ConversationItemDeleted(ITEM),
        InputAudioBufferCommitted(ITEM, previous_item_id="item_000"),
        InputAudioBufferCommitted(ITEM),
        InputAudioBufferCleared(),
        InputAudioBufferSpeechStarted(ITEM, 1000),
        InputAudioBufferSpeechStopped(ITEM, 2500),
        InputAudioBufferTimeoutTriggered(ITEM, 3000, 9000),
        InputAudioTranscriptionDelta(ITEM, 0, "Hel"),
        InputAudioTranscriptionCompleted(ITEM, 0, "Hello", audio_seconds=1.5),
        InputAudioTranscriptionFailed(ITEM, 0, "ASR crashed", code="asr_error"),
        OutputAudioBufferStarted(RESP),
        OutputAudioBufferStopped(RESP),
        OutputAudioBufferCleared(RESP),
        ResponseContentPartAdded(**at, part=TextPart()),
        ResponseContentPartAdded(**at, part=AudioPart()),
        ResponseContentPartDone(**at, part=TextPart("Hello")),
        ResponseContentPartDone(**at, part=AudioPart(transcript="Hello")),
        ResponseTextDelta(**at, delta="Hel"),
        ResponseTextDone(**at, text="Hello"),
        ResponseAudioDelta(**at, audio=b"\x00\x01" * 240),
        ResponseAudioDone(**at),
        ResponseAudioTranscriptDelta(**at, delta="Hel"),
        ResponseAudioTranscriptDone(**at, transcript="Hello"),
        ResponseFunctionCallArgumentsDelta(RESP, ITEM, 0, "call_1", '{"ci'),
        ResponseFunctionCallArgumentsDone(RESP, ITEM, 0, "call_1", "get_weather", '{"city":1}'),
        RateLimitsUpdated(
            (RateLimit("requests", 1000, 999, 60.0), RateLimit("tokens", 50000, 49000, 1.5))
        ),
        RateLimitsUpdated(()),
        ErrorEvent("Something broke.", error_type="server_error"),
        ErrorEvent.from_exception(
            CommandError("invalid_value", "Bad.", "session.voice", event_id="evt_9")
        ),
    ]
    for response in _responses():
        events += [ResponseCreated(response), ResponseDone(response)]
    return events


SAMPLES = _samples()


def test_every_event_class_has_a_wire_entry_and_a_sample() -> None:
    # By name: @dataclass(slots=True) replaces each class, leaving the original in
    # __subclasses__() until it is garbage collected.
    def leaves(cls: type) -> set[type]:  # concrete events; private bases share code only
        found = set()
        for sub in cls.__subclasses__():
            found |= leaves(sub) if sub.__name__.startswith("_") else {sub}
        return found

    declared = {cls.__name__ for cls in leaves(EngineEvent)}
    assert declared == {cls.__name__ for cls in WIRE_TYPES}
    assert {type(event) for event in SAMPLES} == set(WIRE_TYPES)


@pytest.mark.parametrize("dialect", list(Dialect))
@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_rendered_event_validates_with_the_sdk(event: EngineEvent, dialect: Dialect) -> None:
    rendered = render_event(event, dialect)
    if rendered is None:
        assert WIRE_TYPES[type(event)].type_for(dialect) is None
        return
    assert rendered["event_id"].startswith("event_")
    assert rendered["type"] in server_event_types(dialect) | set(SDK_UNION_GAPS[dialect])
    validate_server_event(rendered, dialect)


@pytest.mark.parametrize(
    ("event", "beta", "ga"),
    [
        (ConversationCreated("conv_1"), "conversation.created", None),
        (
            ConversationItemAdded(_assistant_audio()),
            "conversation.item.created",
            "conversation.item.added",
        ),
        (ConversationItemDone(_assistant_audio()), None, "conversation.item.done"),
        (
            InputAudioBufferTimeoutTriggered(ITEM, 0, 1),
            None,
            "input_audio_buffer.timeout_triggered",
        ),
        (
            ResponseTextDelta(RESP, ITEM, 0, 0, "x"),
            "response.text.delta",
            "response.output_text.delta",
        ),
        (
            ResponseAudioDelta(RESP, ITEM, 0, 0, b""),
            "response.audio.delta",
            "response.output_audio.delta",
        ),
        (
            ResponseAudioTranscriptDone(RESP, ITEM, 0, 0, "x"),
            "response.audio_transcript.done",
            "response.output_audio_transcript.done",
        ),
        (
            SessionUpdated(CONFIGS["transcription"], "s"),
            "transcription_session.updated",
            "session.updated",
        ),
        (
            SessionCreated(CONFIGS["transcription"], "s"),
            "transcription_session.created",
            "session.created",
        ),
        (SessionCreated(SessionConfig(), "s"), "session.created", "session.created"),
    ],
)
def test_wire_names_per_dialect(event: EngineEvent, beta: str | None, ga: str | None) -> None:
    for dialect, expected in ((Dialect.BETA, beta), (Dialect.GA, ga)):
        rendered = render_event(event, dialect)
        assert (rendered and rendered["type"]) == expected


def test_event_ids_are_unique_and_overridable() -> None:
    ids = {render_event(InputAudioBufferCleared(), Dialect.GA)["event_id"] for _ in range(200)}  # type: ignore[index]
    assert len(ids) == 200
    rendered = render_event(InputAudioBufferCleared(), Dialect.GA, event_id="event_fixed")
    assert rendered == {"type": "input_audio_buffer.cleared", "event_id": "event_fixed"}


def test_render_events_skips_what_the_dialect_lacks() -> None:
    item = _assistant_audio()
    events = [ConversationItemAdded(item), ConversationItemDone(item), ConversationCreated("c")]
    assert [e["type"] for e in render_events(events, Dialect.BETA)] == [
        "conversation.item.created",
        "conversation.created",
    ]
    assert [e["type"] for e in render_events(events, Dialect.GA)] == [
        "conversation.item.added",
        "conversation.item.done",
    ]


def test_audio_delta_is_base64_of_the_bytes() -> None:
    pcm = bytes(range(256)) * 4
    rendered = render_event(ResponseAudioDelta(RESP, ITEM, 0, 0, pcm), Dialect.GA)
    assert rendered is not None
    assert base64.b64decode(rendered["delta"]) == pcm


def test_function_arguments_done_carries_name_only_in_ga() -> None:
    event = ResponseFunctionCallArgumentsDone(RESP, ITEM, 0, "call_1", "get_weather", "{}")
    beta, ga = render_event(event, Dialect.BETA), render_event(event, Dialect.GA)
    assert beta is not None
    assert ga is not None
    assert "name" not in beta
    assert ga["name"] == "get_weather"


def test_item_events_omit_audio_but_retrieved_includes_it() -> None:
    item = _assistant_audio()
    for dialect in Dialect:
        added = render_event(ConversationItemAdded(item), dialect)
        retrieved = render_event(ConversationItemRetrieved(item), dialect)
        assert added is not None
        assert retrieved is not None
        assert "audio" not in added["item"]["content"][0]
        assert base64.b64decode(retrieved["item"]["content"][0]["audio"]) == b"\x01\x02"


def test_error_event_echoes_the_client_event_id() -> None:
    error = CommandError("missing_required_parameter", "Missing.", "item", event_id="e1")
    rendered = render_event(ErrorEvent.from_exception(error), Dialect.BETA)
    assert rendered is not None
    assert rendered["error"] == {
        "type": "invalid_request_error",
        "code": "missing_required_parameter",
        "message": "Missing.",
        "param": "item",
        "event_id": "e1",
    }


def test_response_rendering_per_dialect() -> None:
    response = _responses()[1]
    beta = render_event(ResponseDone(response), Dialect.BETA)
    ga = render_event(ResponseDone(response), Dialect.GA)
    assert beta is not None
    assert ga is not None
    assert beta["response"]["modalities"] == ["text", "audio"]
    assert beta["response"]["output_audio_format"] == "g711_ulaw"
    assert ga["response"]["output_modalities"] == ["audio"]
    assert ga["response"]["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "voice": "alloy"}
    assert ga["response"]["usage"]["total_tokens"] == 10 + 20 + 7 + 30
    assert [i["type"] for i in ga["response"]["output"]][:2] == ["message", "message"]
    assert ga["response"]["output"][0]["content"][0]["type"] == "output_audio"
    assert beta["response"]["output"][0]["content"][0]["type"] == "audio"


def test_status_details_follow_the_status() -> None:
    by_status = {r.status: r for r in _responses()}
    rendered = {
        status: render_event(ResponseDone(r), Dialect.GA)["response"]["status_details"]  # type: ignore[index]
        for status, r in by_status.items()
    }
    assert rendered["completed"] is None
    assert rendered["cancelled"] == {"type": "cancelled", "reason": "turn_detected"}
    assert rendered["incomplete"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert rendered["failed"]["error"]["code"] == "llm_down"


def test_beta_forced_function_tool_choice_is_an_sdk_type_gap() -> None:
    # The beta SDK types session.tool_choice as a plain string; the API (and GA) use an object.
    config = SessionConfig(tools=(WEATHER,), tool_choice=FunctionChoice("get_weather"))
    validate_server_event(render_event(SessionUpdated(config, "s"), Dialect.GA), Dialect.GA)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="tool_choice"):
        validate_server_event(render_event(SessionUpdated(config, "s"), Dialect.BETA), Dialect.BETA)  # type: ignore[arg-type]
