"""Parsing a client's session configuration (:mod:`bridge.engine.config`) in either dialect.

:func:`apply_update` validates a client's ``session`` object (``session.update`` in either
dialect, or beta ``transcription_session.update``) and returns a *new* :class:`SessionConfig`;
the old one is never touched, so a rejected update leaves the session as it was.
:mod:`bridge.realtime.session_render` shows a configuration in either dialect.

Update semantics follow OpenAI's: fields that are absent keep their value, ``null`` switches
off the nullable features (transcription, turn detection) and is otherwise ignored, unknown
fields (tracing, noise reduction, include, prompt, truncation, ...) are ignored. A nested
turn detection or transcription object is merged into the current one when the turn detection
type stays the same, and starts from that type's defaults when it changes.
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from typing import Any

from bridge.audio.format import PCM16, PCMA, PCMU, AudioFormat
from bridge.engine import errors
from bridge.engine.config import (
    EAGERNESS,
    MODALITIES,
    SESSION_KINDS,
    TOOL_CHOICE_MODES,
    FunctionChoice,
    FunctionTool,
    InputTranscription,
    MaxTokens,
    OutputModality,
    SemanticVad,
    ServerVad,
    SessionConfig,
    ToolChoice,
    TurnDetection,
)
from bridge.engine.errors import CommandError
from bridge.json_limits import JsonTooDeep, check_depth
from bridge.realtime._fields import (
    JsonObject,
    expect_bool,
    expect_choice,
    expect_int,
    expect_list,
    expect_number,
    expect_object,
    expect_str,
    invalid_type,
    invalid_value,
    join,
    missing,
)
from bridge.realtime.dialect import Dialect

TURN_DETECTION_TYPES = ("server_vad", "semantic_vad")
MAX_TOKENS_LIMIT = 4096  # OpenAI's documented ceiling for an integer limit
MAX_TOOLS = 128
MAX_TOOL_PARAMETERS_DEPTH = 32  # nesting of one tool's JSON schema (levels of arrays/objects)
# Bounds on turn detection timings: far above any sensible value, far below what would
# overflow the arithmetic that turns milliseconds into audio windows.
MAX_VAD_MS = 10_000
MAX_IDLE_TIMEOUT_MS = 3_600_000
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_BETA_FORMAT_NAMES: dict[str, AudioFormat] = {"pcm16": PCM16, "g711_ulaw": PCMU, "g711_alaw": PCMA}
_GA_FORMAT_TYPES: dict[str, AudioFormat] = {
    "audio/pcm": PCM16,
    "audio/pcmu": PCMU,
    "audio/pcma": PCMA,
}

# --- field parsers (shared with response.create parameters) -------------------------------


def parse_audio_format(value: object, param: str, dialect: Dialect) -> AudioFormat:
    if dialect is Dialect.BETA:
        name = expect_choice(value, param, tuple(_BETA_FORMAT_NAMES))
        return _BETA_FORMAT_NAMES[name]
    obj = expect_object(value, param)
    if "type" not in obj:
        raise missing(join(param, "type"))
    kind = expect_choice(obj["type"], join(param, "type"), tuple(_GA_FORMAT_TYPES))
    fmt = _GA_FORMAT_TYPES[kind]
    rate = obj.get("rate")
    if rate is not None and kind == "audio/pcm":
        # The API (and the SDK's Literal[24000]) only knows 24 kHz PCM.
        rate_param = join(param, "rate")
        if expect_int(rate, rate_param) != PCM16.sample_rate:
            raise invalid_value(rate_param, rate, ["24000"])
    return fmt


def parse_modalities(value: object, param: str) -> tuple[OutputModality, ...]:
    items = expect_list(value, param)
    if not items:
        raise invalid_value(param, "[]", reason="Expected ['text'] or ['audio'].")
    chosen = {expect_choice(v, join(param, i), MODALITIES) for i, v in enumerate(items)}
    # Audio always comes with a transcript, so any list naming audio means audio output.
    return ("audio",) if "audio" in chosen else ("text",)


def parse_voice(value: object, param: str) -> str:
    if isinstance(value, dict):
        # GA custom voice reference {"id": "voice_1234"}; the TTS maps ids like names.
        param = join(param, "id")
        if "id" not in value:
            raise missing(param)
        value = value["id"]
    voice = expect_str(value, param)
    if not voice:
        raise invalid_value(param, voice, reason="Expected a voice name.")
    return voice


def parse_tools(value: object, param: str) -> tuple[FunctionTool, ...]:
    entries = expect_list(value, param, max_length=MAX_TOOLS)
    return tuple(_parse_tool(entry, join(param, i)) for i, entry in enumerate(entries))


def _parse_tool(value: object, param: str) -> FunctionTool:
    obj = expect_object(value, param)
    kind = obj.get("type", "function")
    if kind is None:
        kind = "function"
    if kind != "function":
        if not isinstance(kind, str):
            raise invalid_type(join(param, "type"), "a string", kind)
        raise invalid_value(
            join(param, "type"), kind, ["function"], "Only function tools are supported."
        )
    if "name" not in obj:
        raise missing(join(param, "name"))
    name = expect_str(obj["name"], join(param, "name"))
    if not _TOOL_NAME.match(name):
        raise invalid_value(
            join(param, "name"), name, reason="Expected 1-64 letters, digits, '_' or '-'."
        )
    description = obj.get("description")
    description = "" if description is None else expect_str(description, join(param, "description"))
    parameters = obj.get("parameters")
    if parameters is not None:
        parameters = expect_object(parameters, join(param, "parameters"))
        try:
            check_depth(parameters, MAX_TOOL_PARAMETERS_DEPTH)
        except JsonTooDeep as exc:
            raise CommandError(
                errors.INVALID_VALUE,
                f"Invalid '{join(param, 'parameters')}': the schema is {exc}.",
                join(param, "parameters"),
            ) from None
        # Deep-copied so later edits to the client's payload cannot reach the frozen config.
        parameters = copy.deepcopy(parameters)
    return FunctionTool(name=name, description=description, parameters=parameters)


def parse_tool_choice(value: object, param: str) -> ToolChoice:
    if isinstance(value, str):
        return expect_choice(value, param, TOOL_CHOICE_MODES)
    obj = expect_object(value, param)
    kind = obj.get("type")
    if kind != "function":
        if kind is None:
            raise missing(join(param, "type"))
        raise invalid_value(join(param, "type"), kind, ["function"])
    # GA spells {"type": "function", "name": ...}; accept the Chat Completions nesting too.
    nested = obj.get("function")
    if "name" not in obj and isinstance(nested, dict):
        return FunctionChoice(expect_str(nested.get("name"), join(param, "function.name")))
    if "name" not in obj:
        raise missing(join(param, "name"))
    return FunctionChoice(expect_str(obj["name"], join(param, "name")))


def parse_temperature(value: object, param: str) -> float:
    # OpenAI's realtime models take [0.6, 1.2]; the local LLM is any chat model, so allow the
    # Chat Completions range instead of rejecting low temperatures.
    return expect_number(value, param, minimum=0.0, maximum=2.0)


def parse_max_output_tokens(value: object, param: str) -> MaxTokens:
    if isinstance(value, str):
        if value != "inf":
            raise invalid_value(
                param, value, reason="Expected an integer from 1 to 4096, or 'inf'."
            )
        return "inf"
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(param, "an integer or 'inf'", value)
    return expect_int(value, param, minimum=1, maximum=MAX_TOKENS_LIMIT)


def parse_speed(value: object, param: str) -> float:
    return expect_number(value, param, minimum=0.25, maximum=1.5)


def _parse_transcription(
    value: object, param: str, current: InputTranscription | None
) -> InputTranscription:
    obj = expect_object(value, param)
    base = current or InputTranscription()
    changes: dict[str, Any] = {}
    for key in ("model", "language", "prompt"):
        if key in obj:
            raw = obj[key]
            changes[key] = None if raw is None else expect_str(raw, join(param, key))
    return replace(base, **changes)


def _parse_turn_detection(
    value: object, param: str, current: TurnDetection, dialect: Dialect
) -> ServerVad | SemanticVad:
    obj = expect_object(value, param)
    kind_raw = obj.get("type")
    if kind_raw is None:
        if dialect is Dialect.GA:
            raise missing(join(param, "type"))  # GA's turn detection union is discriminated
        # Beta makes type optional: keep the current kind.
        kind_raw = "semantic_vad" if isinstance(current, SemanticVad) else "server_vad"
    kind = expect_choice(kind_raw, join(param, "type"), TURN_DETECTION_TYPES)

    changes: dict[str, Any] = {}
    for key in ("create_response", "interrupt_response"):
        if obj.get(key) is not None:
            changes[key] = expect_bool(obj[key], join(param, key))

    if kind == "semantic_vad":
        semantic = current if isinstance(current, SemanticVad) else SemanticVad()
        if obj.get("eagerness") is not None:
            changes["eagerness"] = expect_choice(
                obj["eagerness"], join(param, "eagerness"), EAGERNESS
            )
        return replace(semantic, **changes)

    server = current if isinstance(current, ServerVad) else ServerVad()
    if obj.get("threshold") is not None:
        changes["threshold"] = expect_number(
            obj["threshold"], join(param, "threshold"), minimum=0.0, maximum=1.0
        )
    for key in ("prefix_padding_ms", "silence_duration_ms"):
        if obj.get(key) is not None:
            changes[key] = expect_int(obj[key], join(param, key), minimum=0, maximum=MAX_VAD_MS)
    if "idle_timeout_ms" in obj:
        raw = obj["idle_timeout_ms"]
        changes["idle_timeout_ms"] = (
            None
            if raw is None
            else expect_int(
                raw, join(param, "idle_timeout_ms"), minimum=0, maximum=MAX_IDLE_TIMEOUT_MS
            )
        )
    return replace(server, **changes)


# --- session.update ---------------------------------------------------------------------


def apply_update(
    config: SessionConfig,
    payload: object,
    dialect: Dialect,
    *,
    transcription_session: bool = False,
    voice_locked: bool = False,
) -> SessionConfig:
    """Validate a client ``session`` object and return the updated configuration.

    ``transcription_session`` marks a beta ``transcription_session.update`` (the session becomes
    a transcription session and only transcription fields count). ``voice_locked`` is set by
    the engine once the assistant has spoken: the API forbids changing the voice after that.
    Raises :class:`CommandError` naming the offending ``session.*`` param; ``config``
    itself is frozen and never modified.
    """
    session = expect_object(payload, "session")
    if dialect is Dialect.BETA:
        changes = _beta_changes(config, session, transcription_session)
    else:
        changes = _ga_changes(config, session)
    voice = changes.get("voice")
    if voice_locked and voice is not None and voice != config.voice:
        param = "session.voice" if dialect is Dialect.BETA else "session.audio.output.voice"
        raise CommandError(
            errors.CANNOT_UPDATE_VOICE,
            "Cannot update a conversation's voice if assistant audio is present.",
            param,
        )
    return replace(config, **changes)


_BETA_TRANSCRIPTION_KEYS = frozenset(
    {"input_audio_format", "input_audio_transcription", "turn_detection", "modalities"}
)


def _beta_changes(
    config: SessionConfig, session: JsonObject, transcription_session: bool
) -> dict[str, Any]:
    p = "session"
    changes: dict[str, Any] = {}
    if transcription_session:
        changes["kind"] = "transcription"
        # Realtime-only fields in a transcription update are ignored, like any unknown field.
        session = {k: v for k, v in session.items() if k in _BETA_TRANSCRIPTION_KEYS}

    def given(key: str) -> bool:
        return session.get(key) is not None

    if given("model"):
        changes["model"] = expect_str(session["model"], join(p, "model"))
    if given("instructions"):
        changes["instructions"] = expect_str(session["instructions"], join(p, "instructions"))
    if given("voice"):
        changes["voice"] = parse_voice(session["voice"], join(p, "voice"))
    if given("modalities"):
        changes["output_modalities"] = parse_modalities(
            session["modalities"], join(p, "modalities")
        )
    for key, field_name in (
        ("input_audio_format", "input_audio_format"),
        ("output_audio_format", "output_audio_format"),
    ):
        if given(key):
            changes[field_name] = parse_audio_format(session[key], join(p, key), Dialect.BETA)
    if "input_audio_transcription" in session:
        raw = session["input_audio_transcription"]
        changes["input_transcription"] = (
            None
            if raw is None
            else _parse_transcription(
                raw, join(p, "input_audio_transcription"), config.input_transcription
            )
        )
    if "turn_detection" in session:
        raw = session["turn_detection"]
        changes["turn_detection"] = (
            None
            if raw is None
            else _parse_turn_detection(
                raw, join(p, "turn_detection"), config.turn_detection, Dialect.BETA
            )
        )
    if given("tools"):
        changes["tools"] = parse_tools(session["tools"], join(p, "tools"))
    if given("tool_choice"):
        changes["tool_choice"] = parse_tool_choice(session["tool_choice"], join(p, "tool_choice"))
    if given("temperature"):
        changes["temperature"] = parse_temperature(session["temperature"], join(p, "temperature"))
    if given("max_response_output_tokens"):
        changes["max_output_tokens"] = parse_max_output_tokens(
            session["max_response_output_tokens"], join(p, "max_response_output_tokens")
        )
    if given("speed"):
        changes["speed"] = parse_speed(session["speed"], join(p, "speed"))
    return changes


def _ga_changes(config: SessionConfig, session: JsonObject) -> dict[str, Any]:
    p = "session"
    if "type" not in session:
        raise missing(join(p, "type"))  # GA requires it: the session union is keyed by it
    kind = expect_choice(session["type"], join(p, "type"), SESSION_KINDS)
    changes: dict[str, Any] = {"kind": kind}

    def given(obj: JsonObject, key: str) -> bool:
        return obj.get(key) is not None

    if kind == "realtime":
        if given(session, "model"):
            changes["model"] = expect_str(session["model"], join(p, "model"))
        if given(session, "instructions"):
            changes["instructions"] = expect_str(session["instructions"], join(p, "instructions"))
        if given(session, "output_modalities"):
            changes["output_modalities"] = parse_modalities(
                session["output_modalities"], join(p, "output_modalities")
            )
        if given(session, "tools"):
            changes["tools"] = parse_tools(session["tools"], join(p, "tools"))
        if given(session, "tool_choice"):
            changes["tool_choice"] = parse_tool_choice(
                session["tool_choice"], join(p, "tool_choice")
            )
        if given(session, "max_output_tokens"):
            changes["max_output_tokens"] = parse_max_output_tokens(
                session["max_output_tokens"], join(p, "max_output_tokens")
            )
        if given(session, "temperature"):
            # Not a GA session field; accepted (never rendered) so GA clients can still tune
            # the local LLM.
            changes["temperature"] = parse_temperature(
                session["temperature"], join(p, "temperature")
            )

    if not given(session, "audio"):
        return changes
    ap = join(p, "audio")
    audio = expect_object(session["audio"], ap)

    if given(audio, "input"):
        ip = join(ap, "input")
        audio_in = expect_object(audio["input"], ip)
        if given(audio_in, "format"):
            changes["input_audio_format"] = parse_audio_format(
                audio_in["format"], join(ip, "format"), Dialect.GA
            )
        if "transcription" in audio_in:
            raw = audio_in["transcription"]
            changes["input_transcription"] = (
                None
                if raw is None
                else _parse_transcription(
                    raw, join(ip, "transcription"), config.input_transcription
                )
            )
        if "turn_detection" in audio_in:
            raw = audio_in["turn_detection"]
            changes["turn_detection"] = (
                None
                if raw is None
                else _parse_turn_detection(
                    raw, join(ip, "turn_detection"), config.turn_detection, Dialect.GA
                )
            )

    if kind == "realtime" and given(audio, "output"):
        op = join(ap, "output")
        audio_out = expect_object(audio["output"], op)
        if given(audio_out, "format"):
            changes["output_audio_format"] = parse_audio_format(
                audio_out["format"], join(op, "format"), Dialect.GA
            )
        if given(audio_out, "voice"):
            changes["voice"] = parse_voice(audio_out["voice"], join(op, "voice"))
        if given(audio_out, "speed"):
            changes["speed"] = parse_speed(audio_out["speed"], join(op, "speed"))
    return changes
