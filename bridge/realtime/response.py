"""The response resource on the wire, and the parameters of ``response.create``.

:func:`parse_response_params` validates the optional ``response`` object of ``response.create``
into the engine's :class:`~bridge.engine.response.ResponseParams` (every field optional: it
overrides the session for one response); :func:`render_response` shows a response in
``response.created`` / ``response.done``.
"""

from __future__ import annotations

from typing import Any

from bridge.engine import errors
from bridge.engine.errors import CommandError
from bridge.engine.response import CONVERSATION_MODES, Response, ResponseParams, Usage
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
from bridge.realtime.items import parse_input_item, render_item
from bridge.realtime.session_config import (
    parse_audio_format,
    parse_max_output_tokens,
    parse_modalities,
    parse_temperature,
    parse_tool_choice,
    parse_tools,
    parse_voice,
)
from bridge.realtime.session_render import render_audio_format, render_modalities

MAX_METADATA_KEYS = 16
MAX_METADATA_KEY_LENGTH = 64
MAX_METADATA_VALUE_LENGTH = 512


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
        raise CommandError(
            errors.INVALID_VALUE,
            f"Invalid '{param}': expected at most {MAX_METADATA_KEYS} keys, got {len(obj)}.",
            param,
        )
    metadata: dict[str, str] = {}
    for key, entry in obj.items():
        key_param = join(param, key)
        if len(key) > MAX_METADATA_KEY_LENGTH:
            raise CommandError(
                errors.STRING_ABOVE_MAX_LENGTH,
                f"Invalid '{param}': keys may be at most {MAX_METADATA_KEY_LENGTH} characters.",
                key_param,
            )
        metadata[key] = expect_str(entry, key_param, max_length=MAX_METADATA_VALUE_LENGTH)
    return metadata


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
