"""session.update validation and session rendering, in both dialects."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bridge.audio.format import PCM16, PCMA, PCMU
from bridge.engine.config import (
    FunctionChoice,
    FunctionTool,
    InputTranscription,
    SemanticVad,
    ServerVad,
    SessionConfig,
)
from bridge.engine.errors import CommandError
from bridge.engine.events import SessionCreated, SessionUpdated
from bridge.realtime.dialect import Dialect
from bridge.realtime.events import render_event
from bridge.realtime.session_config import apply_update
from bridge.realtime.session_render import render_session
from bridge.testing.sdk_validation import validate_client_event, validate_server_event

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"location": {"type": "string"}},
    "required": ["location"],
}

# Shaped after the SDK's SessionUpdateEvent docs (beta) ...
BETA_SESSION: dict[str, Any] = {
    "model": "gpt-4o-realtime-preview",
    "modalities": ["text", "audio"],
    "instructions": "You are a helpful assistant.",
    "voice": "sage",
    "input_audio_format": "pcm16",
    "output_audio_format": "g711_ulaw",
    "input_audio_transcription": {"model": "whisper-1", "language": "en"},
    "turn_detection": {
        "type": "server_vad",
        "threshold": 0.6,
        "prefix_padding_ms": 200,
        "silence_duration_ms": 700,
        "create_response": True,
        "interrupt_response": False,
    },
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Get the current weather.",
            "parameters": WEATHER_SCHEMA,
        }
    ],
    "tool_choice": "auto",
    "temperature": 0.7,
    "max_response_output_tokens": 1024,
    "speed": 1.1,
    "tracing": "auto",
    "input_audio_noise_reduction": {"type": "near_field"},
}

# ... and after the GA RealtimeSessionCreateRequest.
GA_SESSION: dict[str, Any] = {
    "type": "realtime",
    "model": "gpt-realtime",
    "output_modalities": ["audio"],
    "instructions": "You are a helpful assistant.",
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "noise_reduction": {"type": "far_field"},
            "transcription": {"model": "gpt-4o-transcribe", "language": "en", "prompt": "names"},
            "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
        },
        "output": {"format": {"type": "audio/pcma"}, "voice": "marin", "speed": 1.2},
    },
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Get the current weather.",
            "parameters": WEATHER_SCHEMA,
        }
    ],
    "tool_choice": {"type": "function", "name": "get_weather"},
    "max_output_tokens": "inf",
    "tracing": {"workflow_name": "w"},
    "truncation": "auto",
    "include": ["item.input_audio_transcription.logprobs"],
}


def test_fixtures_are_valid_sdk_client_events() -> None:
    validate_client_event({"type": "session.update", "session": BETA_SESSION}, Dialect.BETA)
    validate_client_event({"type": "session.update", "session": GA_SESSION}, Dialect.GA)


def test_defaults_mirror_openai() -> None:
    config = SessionConfig()
    assert config.kind == "realtime"
    assert config.voice == "alloy"
    assert config.input_audio_format == PCM16 == config.output_audio_format
    assert PCM16.sample_rate == 24_000
    assert config.turn_detection == ServerVad(0.5, 300, 500, True, True, None)
    assert config.input_transcription is None
    assert config.max_output_tokens == "inf"
    beta = render_session(config, Dialect.BETA, "sess_1")
    ga = render_session(config, Dialect.GA, "sess_1")
    assert beta["modalities"] == ["text", "audio"]
    assert ga["output_modalities"] == ["audio"]
    assert beta["input_audio_format"] == "pcm16"
    assert ga["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}


def test_beta_update_applies_every_field() -> None:
    config = apply_update(SessionConfig(), BETA_SESSION, Dialect.BETA)
    assert config == SessionConfig(
        model="gpt-4o-realtime-preview",
        instructions="You are a helpful assistant.",
        voice="sage",
        output_modalities=("audio",),
        input_audio_format=PCM16,
        output_audio_format=PCMU,
        input_transcription=InputTranscription("whisper-1", "en"),
        turn_detection=ServerVad(0.6, 200, 700, True, False),
        tools=(FunctionTool("get_weather", "Get the current weather.", WEATHER_SCHEMA),),
        tool_choice="auto",
        temperature=0.7,
        max_output_tokens=1024,
        speed=1.1,
    )


def test_ga_update_applies_every_field() -> None:
    config = apply_update(SessionConfig(), GA_SESSION, Dialect.GA)
    assert config == SessionConfig(
        model="gpt-realtime",
        instructions="You are a helpful assistant.",
        voice="marin",
        output_modalities=("audio",),
        input_audio_format=PCMU,
        output_audio_format=PCMA,
        input_transcription=InputTranscription("gpt-4o-transcribe", "en", "names"),
        turn_detection=SemanticVad(eagerness="high"),
        tools=(FunctionTool("get_weather", "Get the current weather.", WEATHER_SCHEMA),),
        tool_choice=FunctionChoice("get_weather"),
        max_output_tokens="inf",
        speed=1.2,
    )


@pytest.mark.parametrize(
    ("dialect", "payload"), [(Dialect.BETA, BETA_SESSION), (Dialect.GA, GA_SESSION)]
)
def test_rendered_session_round_trips(dialect: Dialect, payload: dict[str, Any]) -> None:
    config = apply_update(SessionConfig(), payload, dialect)
    rendered = render_session(config, dialect, "sess_1")
    # What we render is itself a valid update that changes nothing.
    assert apply_update(config, rendered, dialect) == config
    assert apply_update(SessionConfig(), rendered, dialect) == config
    for event in (SessionCreated(config, "sess_1"), SessionUpdated(config, "sess_1")):
        validate_server_event(render_event(event, dialect), dialect)  # type: ignore[arg-type]


def test_update_does_not_alias_the_clients_payload() -> None:
    payload = copy.deepcopy(BETA_SESSION)
    config = apply_update(SessionConfig(), payload, Dialect.BETA)
    payload["tools"][0]["parameters"]["properties"]["location"]["type"] = "number"
    assert config.tools[0].parameters == WEATHER_SCHEMA


def test_absent_fields_keep_their_values_and_null_switches_features_off() -> None:
    config = apply_update(SessionConfig(), BETA_SESSION, Dialect.BETA)
    same = apply_update(config, {"instructions": "Other.", "voice": None}, Dialect.BETA)
    assert same == SessionConfig(**{**_fields(config), "instructions": "Other."})
    off = apply_update(
        config, {"turn_detection": None, "input_audio_transcription": None}, Dialect.BETA
    )
    assert off.turn_detection is None
    assert off.input_transcription is None
    ga_off = apply_update(
        config,
        {"type": "realtime", "audio": {"input": {"turn_detection": None, "transcription": None}}},
        Dialect.GA,
    )
    assert ga_off == off


def _fields(config: SessionConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


def test_turn_detection_merges_within_a_type_and_resets_across_types() -> None:
    config = SessionConfig(turn_detection=ServerVad(threshold=0.8, silence_duration_ms=900))
    merged = apply_update(config, {"turn_detection": {"prefix_padding_ms": 100}}, Dialect.BETA)
    assert merged.turn_detection == ServerVad(0.8, 100, 900)
    semantic = apply_update(config, {"turn_detection": {"type": "semantic_vad"}}, Dialect.BETA)
    assert semantic.turn_detection == SemanticVad()
    back = apply_update(
        semantic,
        {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad"}}}},
        Dialect.GA,
    )
    assert back.turn_detection == ServerVad()
    idle = apply_update(
        config,
        {
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}},
        },
        Dialect.GA,
    )
    assert idle.turn_detection == ServerVad(
        threshold=0.8, silence_duration_ms=900, idle_timeout_ms=5000
    )


def test_modalities_are_canonical() -> None:
    assert apply_update(
        SessionConfig(), {"modalities": ["text"]}, Dialect.BETA
    ).output_modalities == ("text",)
    text = apply_update(
        SessionConfig(), {"type": "realtime", "output_modalities": ["text"]}, Dialect.GA
    )
    assert text.output_modalities == ("text",)
    assert not text.audio_output
    assert render_session(text, Dialect.BETA, "s")["modalities"] == ["text"]
    assert render_session(text, Dialect.GA, "s")["output_modalities"] == ["text"]


def test_ga_custom_voice_reference_and_pcm_rate() -> None:
    config = apply_update(
        SessionConfig(),
        {
            "type": "realtime",
            "audio": {
                "input": {"format": {"type": "audio/pcm", "rate": 24000}},
                "output": {"voice": {"id": "voice_1234"}},
            },
        },
        Dialect.GA,
    )
    assert config.voice == "voice_1234"
    assert config.input_audio_format == PCM16


def test_beta_transcription_session_update() -> None:
    payload = {
        "input_audio_format": "g711_alaw",
        "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "fr"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 800},
        "input_audio_noise_reduction": {"type": "near_field"},
        "include": ["item.input_audio_transcription.logprobs"],
        "instructions": "ignored: not a transcription field",
    }
    validate_client_event(
        {"type": "transcription_session.update", "session": payload}, Dialect.BETA
    )
    config = apply_update(SessionConfig(), payload, Dialect.BETA, transcription_session=True)
    assert config.kind == "transcription"
    assert config.input_audio_format == PCMA
    assert config.input_transcription == InputTranscription("gpt-4o-transcribe", "fr")
    assert config.turn_detection == ServerVad(silence_duration_ms=800)
    assert config.instructions == ""
    updated = render_event(SessionUpdated(config, "sess_t"), Dialect.BETA)
    assert updated is not None
    assert updated["type"] == "transcription_session.updated"
    assert updated["session"]["object"] == "realtime.transcription_session"
    validate_server_event(updated, Dialect.BETA)


def test_ga_transcription_session_update() -> None:
    payload = {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-mini-transcribe"},
                "turn_detection": {"type": "server_vad", "threshold": 0.3},
            }
        },
    }
    validate_client_event({"type": "session.update", "session": payload}, Dialect.GA)
    config = apply_update(SessionConfig(), payload, Dialect.GA)
    assert config.kind == "transcription"
    assert config.turn_detection == ServerVad(threshold=0.3)
    rendered = render_session(config, Dialect.GA, "sess_t")
    assert rendered["type"] == "transcription"
    assert "output" not in rendered["audio"]
    validate_server_event(render_event(SessionUpdated(config, "sess_t"), Dialect.GA), Dialect.GA)  # type: ignore[arg-type]


def test_voice_cannot_change_once_locked() -> None:
    config = SessionConfig(voice="alloy")
    assert apply_update(config, {"voice": "alloy"}, Dialect.BETA, voice_locked=True) == config
    with pytest.raises(CommandError) as caught:
        apply_update(
            config,
            {"type": "realtime", "audio": {"output": {"voice": "ash"}}},
            Dialect.GA,
            voice_locked=True,
        )
    assert caught.value.code == "cannot_update_voice"
    assert caught.value.param == "session.audio.output.voice"


INVALID: list[tuple[Dialect, Any, str, str]] = [
    (Dialect.BETA, "not an object", "invalid_type", "session"),
    (Dialect.BETA, {"input_audio_format": "mp3"}, "invalid_value", "session.input_audio_format"),
    (Dialect.BETA, {"output_audio_format": 16}, "invalid_type", "session.output_audio_format"),
    (Dialect.BETA, {"instructions": 5}, "invalid_type", "session.instructions"),
    (Dialect.BETA, {"voice": ""}, "invalid_value", "session.voice"),
    (Dialect.BETA, {"modalities": "audio"}, "invalid_type", "session.modalities"),
    (Dialect.BETA, {"modalities": []}, "invalid_value", "session.modalities"),
    (Dialect.BETA, {"modalities": ["text", "video"]}, "invalid_value", "session.modalities[1]"),
    (
        Dialect.BETA,
        {"turn_detection": {"threshold": 1.5}},
        "decimal_above_max_value",
        "session.turn_detection.threshold",
    ),
    (
        Dialect.BETA,
        {"turn_detection": {"threshold": -0.1}},
        "decimal_below_min_value",
        "session.turn_detection.threshold",
    ),
    (
        Dialect.BETA,
        {"turn_detection": {"threshold": "high"}},
        "invalid_type",
        "session.turn_detection.threshold",
    ),
    (
        Dialect.BETA,
        {"turn_detection": {"type": "push_to_talk"}},
        "invalid_value",
        "session.turn_detection.type",
    ),
    (
        Dialect.BETA,
        {"turn_detection": {"silence_duration_ms": 1.5}},
        "invalid_type",
        "session.turn_detection.silence_duration_ms",
    ),
    (
        Dialect.BETA,
        {"turn_detection": {"prefix_padding_ms": -1}},
        "integer_below_min_value",
        "session.turn_detection.prefix_padding_ms",
    ),
    (
        Dialect.BETA,
        {"turn_detection": {"create_response": "yes"}},
        "invalid_type",
        "session.turn_detection.create_response",
    ),
    (
        Dialect.BETA,
        {"turn_detection": {"type": "semantic_vad", "eagerness": "eager"}},
        "invalid_value",
        "session.turn_detection.eagerness",
    ),
    (
        Dialect.BETA,
        {"input_audio_transcription": {"model": 1}},
        "invalid_type",
        "session.input_audio_transcription.model",
    ),
    (Dialect.BETA, {"tools": {}}, "invalid_type", "session.tools"),
    (
        Dialect.BETA,
        {"tools": [{"type": "function"}]},
        "missing_required_parameter",
        "session.tools[0].name",
    ),
    (
        Dialect.BETA,
        {"tools": [{"name": "ok"}, {"name": "has space"}]},
        "invalid_value",
        "session.tools[1].name",
    ),
    (
        Dialect.BETA,
        {"tools": [{"name": "f", "parameters": "{}"}]},
        "invalid_type",
        "session.tools[0].parameters",
    ),
    (Dialect.BETA, {"tool_choice": "sometimes"}, "invalid_value", "session.tool_choice"),
    (
        Dialect.BETA,
        {"tool_choice": {"type": "function"}},
        "missing_required_parameter",
        "session.tool_choice.name",
    ),
    (Dialect.BETA, {"temperature": 3}, "decimal_above_max_value", "session.temperature"),
    (Dialect.BETA, {"temperature": True}, "invalid_type", "session.temperature"),
    (
        Dialect.BETA,
        {"max_response_output_tokens": 0},
        "integer_below_min_value",
        "session.max_response_output_tokens",
    ),
    (
        Dialect.BETA,
        {"max_response_output_tokens": 5000},
        "integer_above_max_value",
        "session.max_response_output_tokens",
    ),
    (
        Dialect.BETA,
        {"max_response_output_tokens": "infinite"},
        "invalid_value",
        "session.max_response_output_tokens",
    ),
    (Dialect.BETA, {"speed": 2.0}, "decimal_above_max_value", "session.speed"),
    (Dialect.GA, {"instructions": "no type"}, "missing_required_parameter", "session.type"),
    (Dialect.GA, {"type": "conversation"}, "invalid_value", "session.type"),
    (
        Dialect.GA,
        {"type": "realtime", "audio": {"input": {"format": "pcm16"}}},
        "invalid_type",
        "session.audio.input.format",
    ),
    (
        Dialect.GA,
        {"type": "realtime", "audio": {"input": {"format": {"type": "audio/opus"}}}},
        "invalid_value",
        "session.audio.input.format.type",
    ),
    (
        Dialect.GA,
        {"type": "realtime", "audio": {"output": {"format": {"rate": 24000}}}},
        "missing_required_parameter",
        "session.audio.output.format.type",
    ),
    (
        Dialect.GA,
        {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
        "invalid_value",
        "session.audio.input.format.rate",
    ),
    (
        Dialect.GA,
        {"type": "realtime", "audio": {"input": {"turn_detection": {"threshold": 0.5}}}},
        "missing_required_parameter",
        "session.audio.input.turn_detection.type",
    ),
    (
        Dialect.GA,
        {
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2}}},
        },
        "decimal_above_max_value",
        "session.audio.input.turn_detection.threshold",
    ),
    (
        Dialect.GA,
        {"type": "realtime", "audio": {"output": {"voice": {"name": "x"}}}},
        "missing_required_parameter",
        "session.audio.output.voice.id",
    ),
    (Dialect.GA, {"type": "realtime", "audio": []}, "invalid_type", "session.audio"),
    (
        Dialect.GA,
        {"type": "realtime", "output_modalities": ["speech"]},
        "invalid_value",
        "session.output_modalities[0]",
    ),
    (
        Dialect.GA,
        {"type": "realtime", "tools": [{"type": "mcp", "server_label": "x"}]},
        "invalid_value",
        "session.tools[0].type",
    ),
    (
        Dialect.GA,
        {"type": "realtime", "max_output_tokens": "lots"},
        "invalid_value",
        "session.max_output_tokens",
    ),
    (
        Dialect.GA,
        {"type": "realtime", "max_output_tokens": 1.5},
        "invalid_type",
        "session.max_output_tokens",
    ),
]


@pytest.mark.parametrize(
    ("dialect", "payload", "code", "param"), INVALID, ids=[case[3] for case in INVALID]
)
def test_invalid_update_names_the_param_and_changes_nothing(
    dialect: Dialect, payload: Any, code: str, param: str
) -> None:
    config = apply_update(SessionConfig(), BETA_SESSION, Dialect.BETA)
    before = copy.deepcopy(config)
    # A valid field next to the bad one must not be applied either.
    if isinstance(payload, dict):
        payload = {"instructions": "changed", **payload}
    with pytest.raises(CommandError) as caught:
        apply_update(config, payload, dialect)
    assert (caught.value.code, caught.value.param) == (code, param)
    assert caught.value.type == "invalid_request_error"
    assert param in caught.value.message or caught.value.code == "invalid_value"
    assert config == before


def test_unknown_fields_are_ignored() -> None:
    config = apply_update(
        SessionConfig(),
        {"tracing": "auto", "flavour": "vanilla", "client_secret": {}},
        Dialect.BETA,
    )
    assert config == SessionConfig()
