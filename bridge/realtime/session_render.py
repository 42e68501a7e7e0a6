"""Rendering the session configuration in a client's dialect: the ``session`` object of
``session.created`` / ``session.updated`` (or beta's ``transcription_session`` shape), and the
format, modality and tool pieces that responses render too."""

from __future__ import annotations

import copy
from typing import Any

from bridge.audio.format import AudioFormat
from bridge.engine.config import (
    FunctionChoice,
    FunctionTool,
    InputTranscription,
    OutputModality,
    SemanticVad,
    SessionConfig,
    ToolChoice,
    TurnDetection,
)
from bridge.realtime._fields import JsonObject
from bridge.realtime.dialect import Dialect


def render_audio_format(fmt: AudioFormat, dialect: Dialect) -> Any:
    if dialect is Dialect.BETA:
        return {"pcm16": "pcm16", "pcmu": "g711_ulaw", "pcma": "g711_alaw"}[fmt.encoding]
    if fmt.encoding == "pcm16":
        return {"type": "audio/pcm", "rate": fmt.sample_rate}
    return {"type": "audio/pcmu" if fmt.encoding == "pcmu" else "audio/pcma"}


def render_modalities(modalities: tuple[OutputModality, ...], dialect: Dialect) -> list[str]:
    audio = "audio" in modalities
    if dialect is Dialect.BETA:
        return ["text", "audio"] if audio else ["text"]
    return ["audio"] if audio else ["text"]


def render_tools(tools: tuple[FunctionTool, ...]) -> list[JsonObject]:
    rendered = []
    for tool in tools:
        entry: JsonObject = {"type": "function", "name": tool.name, "description": tool.description}
        if tool.parameters is not None:
            entry["parameters"] = copy.deepcopy(tool.parameters)
        rendered.append(entry)
    return rendered


def render_tool_choice(choice: ToolChoice) -> Any:
    if isinstance(choice, FunctionChoice):
        return {"type": "function", "name": choice.name}
    return choice


def _render_transcription(transcription: InputTranscription | None) -> JsonObject | None:
    if transcription is None:
        return None
    rendered: JsonObject = {"model": transcription.model}
    if transcription.language is not None:
        rendered["language"] = transcription.language
    if transcription.prompt is not None:
        rendered["prompt"] = transcription.prompt
    return rendered


def _render_turn_detection(
    detection: TurnDetection, dialect: Dialect, *, for_transcription: bool = False
) -> JsonObject | None:
    if detection is None:
        return None
    if isinstance(detection, SemanticVad):
        rendered: JsonObject = {"type": "semantic_vad", "eagerness": detection.eagerness}
    else:
        rendered = {
            "type": "server_vad",
            "threshold": detection.threshold,
            "prefix_padding_ms": detection.prefix_padding_ms,
            "silence_duration_ms": detection.silence_duration_ms,
        }
        if dialect is Dialect.GA:
            rendered["idle_timeout_ms"] = detection.idle_timeout_ms
    # The beta transcription session object documents no response-related VAD fields.
    if not (for_transcription and dialect is Dialect.BETA):
        rendered["create_response"] = detection.create_response
        rendered["interrupt_response"] = detection.interrupt_response
    return rendered


def render_session(
    config: SessionConfig, dialect: Dialect, session_id: str, *, expires_at: int | None = None
) -> JsonObject:
    """The ``session`` object of session.created/updated (transcription_session.* in beta)."""
    if dialect is Dialect.BETA:
        if config.kind == "transcription":
            return _render_beta_transcription(config, session_id, expires_at)
        return _render_beta(config, session_id, expires_at)
    return _render_ga(config, session_id, expires_at)


def _render_beta(config: SessionConfig, session_id: str, expires_at: int | None) -> JsonObject:
    session: JsonObject = {
        "id": session_id,
        "object": "realtime.session",
        "model": config.model,
        "modalities": render_modalities(config.output_modalities, Dialect.BETA),
        "instructions": config.instructions,
        "voice": config.voice,
        "input_audio_format": render_audio_format(config.input_audio_format, Dialect.BETA),
        "output_audio_format": render_audio_format(config.output_audio_format, Dialect.BETA),
        "input_audio_transcription": _render_transcription(config.input_transcription),
        "input_audio_noise_reduction": None,
        "turn_detection": _render_turn_detection(config.turn_detection, Dialect.BETA),
        "tools": render_tools(config.tools),
        "tool_choice": render_tool_choice(config.tool_choice),
        "temperature": config.temperature,
        "max_response_output_tokens": config.max_output_tokens,
        "speed": config.speed,
        "tracing": None,
    }
    if expires_at is not None:
        session["expires_at"] = expires_at
    return session


def _render_beta_transcription(
    config: SessionConfig, session_id: str, expires_at: int | None
) -> JsonObject:
    return {
        "id": session_id,
        "object": "realtime.transcription_session",
        # Required by the SDK's TranscriptionSession although the live API only sends it for
        # REST-created sessions; an empty placeholder keeps strict (generated) clients parsing.
        "client_secret": {"value": "", "expires_at": expires_at or 0},
        "modalities": render_modalities(config.output_modalities, Dialect.BETA),
        "input_audio_format": render_audio_format(config.input_audio_format, Dialect.BETA),
        "input_audio_transcription": _render_transcription(config.input_transcription),
        "input_audio_noise_reduction": None,
        "turn_detection": _render_turn_detection(
            config.turn_detection, Dialect.BETA, for_transcription=True
        ),
        "include": None,
    }


def _render_ga(config: SessionConfig, session_id: str, expires_at: int | None) -> JsonObject:
    audio_input: JsonObject = {
        "format": render_audio_format(config.input_audio_format, Dialect.GA),
        "noise_reduction": None,
        "transcription": _render_transcription(config.input_transcription),
        "turn_detection": _render_turn_detection(config.turn_detection, Dialect.GA),
    }
    if config.kind == "transcription":
        session: JsonObject = {
            "type": "transcription",
            "object": "realtime.transcription_session",
            "id": session_id,
            "audio": {"input": audio_input},
            "include": None,
        }
    else:
        session = {
            "type": "realtime",
            "object": "realtime.session",
            "id": session_id,
            "model": config.model,
            "output_modalities": render_modalities(config.output_modalities, Dialect.GA),
            "instructions": config.instructions,
            "audio": {
                "input": audio_input,
                "output": {
                    "format": render_audio_format(config.output_audio_format, Dialect.GA),
                    "voice": config.voice,
                    "speed": config.speed,
                },
            },
            "tools": render_tools(config.tools),
            "tool_choice": render_tool_choice(config.tool_choice),
            "max_output_tokens": config.max_output_tokens,
            "tracing": None,
            "prompt": None,
            "include": None,
        }
    if expires_at is not None:
        session["expires_at"] = expires_at
    return session
