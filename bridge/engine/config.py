"""A session's configuration: audio formats, turn detection, transcription, tools, voice.

Frozen values: a change is a new :class:`SessionConfig`, so a rejected update leaves the session
as it was. Parsing and rendering for the realtime wire live in :mod:`bridge.realtime`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bridge.audio.format import PCM16, AudioFormat
from bridge.config import VadSettings

SessionKind = Literal["realtime", "transcription"]
OutputModality = Literal["text", "audio"]
Eagerness = Literal["low", "medium", "high", "auto"]
ToolChoiceMode = Literal["auto", "none", "required"]
MaxTokens = int | Literal["inf"]

SESSION_KINDS: tuple[SessionKind, ...] = ("realtime", "transcription")
MODALITIES: tuple[OutputModality, ...] = ("text", "audio")
EAGERNESS: tuple[Eagerness, ...] = ("low", "medium", "high", "auto")
TOOL_CHOICE_MODES: tuple[ToolChoiceMode, ...] = ("auto", "none", "required")

DEFAULT_MODEL = "gpt-realtime"  # a name both SDKs' model literals accept
DEFAULT_VOICE = "alloy"
DEFAULT_TEMPERATURE = 0.8


@dataclass(frozen=True, slots=True)
class InputTranscription:
    model: str | None = None
    language: str | None = None
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class ServerVad:
    # Defaults as documented by both SDKs' docstrings (threshold 0.5, 300 ms, 500 ms). The live
    # beta server was seen announcing 200 ms silence in session.created; 500 ms is what the
    # reference promises and what suits phone audio better.
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None


@dataclass(frozen=True, slots=True)
class SemanticVad:
    eagerness: Eagerness = "auto"
    create_response: bool = True
    interrupt_response: bool = True


TurnDetection = ServerVad | SemanticVad | None


@dataclass(frozen=True, slots=True)
class FunctionTool:
    name: str
    description: str = ""
    parameters: dict[str, Any] | None = None  # a JSON schema, kept as the client sent it


@dataclass(frozen=True, slots=True)
class FunctionChoice:
    """``tool_choice`` forcing one function."""

    name: str


ToolChoice = ToolChoiceMode | FunctionChoice


@dataclass(frozen=True, slots=True)
class SessionConfig:
    kind: SessionKind = "realtime"
    model: str = DEFAULT_MODEL
    instructions: str = ""
    voice: str = DEFAULT_VOICE
    # Canonical: ("audio",) means audio plus its transcript, ("text",) text only. Beta spells
    # the former ["text", "audio"], GA ["audio"].
    output_modalities: tuple[OutputModality, ...] = ("audio",)
    input_audio_format: AudioFormat = PCM16
    output_audio_format: AudioFormat = PCM16
    input_transcription: InputTranscription | None = None
    turn_detection: TurnDetection = ServerVad()
    tools: tuple[FunctionTool, ...] = ()
    tool_choice: ToolChoice = "auto"
    temperature: float = DEFAULT_TEMPERATURE
    max_output_tokens: MaxTokens = "inf"
    speed: float = 1.0

    @property
    def audio_output(self) -> bool:
        return "audio" in self.output_modalities


def server_vad(settings: VadSettings, **changes: Any) -> ServerVad:
    """Turn detection for the bridge's own calls, from the ``BRIDGE_VAD_*`` settings."""
    return ServerVad(
        threshold=settings.threshold,
        prefix_padding_ms=settings.prefix_padding_ms,
        silence_duration_ms=settings.silence_ms,
        **changes,
    )


def call_turn_detection(settings: VadSettings, **changes: Any) -> ServerVad | SemanticVad:
    """Turn detection for the bridge's own calls and dialplans: ``BRIDGE_TURN_DETECTION``
    (``semantic_vad`` by default: the end-of-turn model with ``BRIDGE_TURN_EAGERNESS``), or
    ``server_vad`` on the ``BRIDGE_VAD_*`` silence."""
    if settings.turn_detection == "semantic_vad":
        return SemanticVad(eagerness=settings.eagerness, **changes)
    return server_vad(settings, **changes)
