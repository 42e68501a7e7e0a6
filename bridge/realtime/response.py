"""The response resource and the parameters of ``response.create``.

:func:`parse_response_params` validates the optional ``response`` object of ``response.create``
into :class:`ResponseParams` (every field optional: it overrides the session for one response).
:func:`new_response` resolves those overrides against the session into a :class:`Response`,
which the engine fills while generating and :func:`render_response` shows in
``response.created`` / ``response.done``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bridge.realtime import errors
from bridge.realtime._fields import (
    JsonObject,
    expect_choice,
    expect_list,
    expect_object,
    expect_str,
    join,
    optional_str,
)
from bridge.realtime.dialect import Dialect
from bridge.realtime.errors import RealtimeProtocolError
from bridge.realtime.ids import new_response_id
from bridge.realtime.items import Item, ItemReference, parse_input_item, render_item
from bridge.realtime.session_config import (
    AudioFormat,
    FunctionTool,
    MaxTokens,
    OutputModality,
    SessionConfig,
    ToolChoice,
    parse_audio_format,
    parse_max_output_tokens,
    parse_modalities,
    parse_temperature,
    parse_tool_choice,
    parse_tools,
    parse_voice,
)
from bridge.realtime.session_render import render_audio_format, render_modalities

ResponseStatus = Literal["in_progress", "completed", "cancelled", "failed", "incomplete"]
StatusReason = Literal["turn_detected", "client_cancelled", "max_output_tokens", "content_filter"]
ConversationMode = Literal["auto", "none"]

CONVERSATION_MODES: tuple[ConversationMode, ...] = ("auto", "none")
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY_LENGTH = 64
MAX_METADATA_VALUE_LENGTH = 512


@dataclass(frozen=True, slots=True)
class ResponseError:
    """Why a response ``failed`` (``status_details.error``)."""

    type: str
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    cached_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0

    @property
    def input_tokens(self) -> int:
        return self.input_text_tokens + self.input_audio_tokens

    @property
    def output_tokens(self) -> int:
        return self.output_text_tokens + self.output_audio_tokens


@dataclass(slots=True)
class Response:
    output_modalities: tuple[OutputModality, ...]
    output_audio_format: AudioFormat
    voice: str
    max_output_tokens: MaxTokens
    temperature: float
    conversation_id: str | None = None  # None for out-of-band (conversation "none") responses
    id: str = field(default_factory=new_response_id)
    status: ResponseStatus = "in_progress"
    reason: StatusReason | None = None  # for cancelled / incomplete
    error: ResponseError | None = None  # for failed
    output: list[Item] = field(default_factory=list)
    usage: Usage | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ResponseParams:
    """``response.create`` overrides; ``None`` means "use the session's value"."""

    conversation: ConversationMode = "auto"
    input: tuple[Item | ItemReference, ...] | None = None  # None: the whole conversation
    instructions: str | None = None
    output_modalities: tuple[OutputModality, ...] | None = None
    voice: str | None = None
    output_audio_format: AudioFormat | None = None
    tools: tuple[FunctionTool, ...] | None = None
    tool_choice: ToolChoice | None = None
    temperature: float | None = None
    max_output_tokens: MaxTokens | None = None
    metadata: dict[str, str] | None = None


def parse_response_params(payload: object, dialect: Dialect) -> ResponseParams:
    """Validate ``response.create``'s ``response`` object (absent or ``null``: all defaults)."""
    if payload is None:
        return ResponseParams()
    p = "response"
    obj = expect_object(payload, p)
    changes: dict[str, Any] = {}

    def given(o: JsonObject, key: str) -> bool:
        return o.get(key) is not None

    if given(obj, "conversation"):
        changes["conversation"] = expect_choice(
            obj["conversation"], join(p, "conversation"), CONVERSATION_MODES
        )
    if given(obj, "input"):
        entries = expect_list(obj["input"], join(p, "input"))
        changes["input"] = tuple(
            parse_input_item(entry, dialect, param=join(join(p, "input"), i))
            for i, entry in enumerate(entries)
        )
    changes["instructions"] = optional_str(obj, "instructions", p)
    if given(obj, "tools"):
        changes["tools"] = parse_tools(obj["tools"], join(p, "tools"))
    if given(obj, "tool_choice"):
        changes["tool_choice"] = parse_tool_choice(obj["tool_choice"], join(p, "tool_choice"))
    if given(obj, "temperature"):
        changes["temperature"] = parse_temperature(obj["temperature"], join(p, "temperature"))
    if given(obj, "metadata"):
        changes["metadata"] = _parse_metadata(obj["metadata"], join(p, "metadata"))

    if dialect is Dialect.BETA:
        if given(obj, "modalities"):
            changes["output_modalities"] = parse_modalities(
                obj["modalities"], join(p, "modalities")
            )
        if given(obj, "voice"):
            changes["voice"] = parse_voice(obj["voice"], join(p, "voice"))
        if given(obj, "output_audio_format"):
            changes["output_audio_format"] = parse_audio_format(
                obj["output_audio_format"], join(p, "output_audio_format"), dialect
            )
        if given(obj, "max_response_output_tokens"):
            changes["max_output_tokens"] = parse_max_output_tokens(
                obj["max_response_output_tokens"], join(p, "max_response_output_tokens")
            )
        return ResponseParams(**changes)

    if given(obj, "output_modalities"):
        changes["output_modalities"] = parse_modalities(
            obj["output_modalities"], join(p, "output_modalities")
        )
    if given(obj, "max_output_tokens"):
        changes["max_output_tokens"] = parse_max_output_tokens(
            obj["max_output_tokens"], join(p, "max_output_tokens")
        )
    if given(obj, "audio"):
        audio = expect_object(obj["audio"], join(p, "audio"))
        if given(audio, "output"):
            op = join(p, "audio.output")
            audio_out = expect_object(audio["output"], op)
            if given(audio_out, "format"):
                changes["output_audio_format"] = parse_audio_format(
                    audio_out["format"], join(op, "format"), dialect
                )
            if given(audio_out, "voice"):
                changes["voice"] = parse_voice(audio_out["voice"], join(op, "voice"))
    return ResponseParams(**changes)


def _parse_metadata(value: object, param: str) -> dict[str, str]:
    obj = expect_object(value, param)
    if len(obj) > MAX_METADATA_KEYS:
        raise RealtimeProtocolError(
            errors.INVALID_VALUE,
            f"Invalid '{param}': expected at most {MAX_METADATA_KEYS} keys, got {len(obj)}.",
            param,
        )
    metadata: dict[str, str] = {}
    for key, entry in obj.items():
        key_param = join(param, key)
        if len(key) > MAX_METADATA_KEY_LENGTH:
            raise RealtimeProtocolError(
                errors.STRING_ABOVE_MAX_LENGTH,
                f"Invalid '{param}': keys may be at most {MAX_METADATA_KEY_LENGTH} characters.",
                key_param,
            )
        metadata[key] = expect_str(entry, key_param, max_length=MAX_METADATA_VALUE_LENGTH)
    return metadata


def new_response(
    config: SessionConfig, params: ResponseParams, *, conversation_id: str | None
) -> Response:
    """A fresh ``in_progress`` response with the overrides resolved against the session.

    ``conversation_id`` is the default conversation's id; it is dropped for ``conversation:
    "none"`` responses, which the API reports with a null ``conversation_id``.
    """
    return Response(
        output_modalities=params.output_modalities or config.output_modalities,
        output_audio_format=params.output_audio_format or config.output_audio_format,
        voice=params.voice or config.voice,
        max_output_tokens=(
            params.max_output_tokens
            if params.max_output_tokens is not None
            else config.max_output_tokens
        ),
        temperature=params.temperature if params.temperature is not None else config.temperature,
        conversation_id=conversation_id if params.conversation == "auto" else None,
        metadata=dict(params.metadata) if params.metadata is not None else None,
    )


def _render_status_details(response: Response) -> JsonObject | None:
    if response.status in ("in_progress", "completed"):
        return None
    details: JsonObject = {"type": response.status}
    if response.reason is not None:
        details["reason"] = response.reason
    if response.error is not None:
        details["error"] = {
            "type": response.error.type,
            "code": response.error.code,
            "message": response.error.message,
        }
    return details


def _render_usage(usage: Usage | None) -> JsonObject | None:
    if usage is None:
        return None
    return {
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "input_token_details": {
            "text_tokens": usage.input_text_tokens,
            "audio_tokens": usage.input_audio_tokens,
            "cached_tokens": usage.cached_tokens,
        },
        "output_token_details": {
            "text_tokens": usage.output_text_tokens,
            "audio_tokens": usage.output_audio_tokens,
        },
    }


def render_response(response: Response, dialect: Dialect) -> JsonObject:
    """The ``response`` object; output items never carry audio bytes, as in the API."""
    rendered: JsonObject = {
        "object": "realtime.response",
        "id": response.id,
        "status": response.status,
        "status_details": _render_status_details(response),
        "output": [render_item(item, dialect) for item in response.output],
        "conversation_id": response.conversation_id,
        "usage": _render_usage(response.usage),
        "metadata": response.metadata,
        "max_output_tokens": response.max_output_tokens,
    }
    modalities = render_modalities(response.output_modalities, dialect)
    if dialect is Dialect.BETA:
        rendered["modalities"] = modalities
        rendered["voice"] = response.voice
        rendered["output_audio_format"] = render_audio_format(response.output_audio_format, dialect)
        rendered["temperature"] = response.temperature
    else:
        rendered["output_modalities"] = modalities
        rendered["audio"] = {
            "output": {
                "format": render_audio_format(response.output_audio_format, dialect),
                "voice": response.voice,
            }
        }
    return rendered
