"""A response (what the engine generates in one go) and the overrides one may be created with.

:func:`new_response` resolves :class:`ResponseParams` against the session into a
:class:`Response`, which the engine fills while generating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bridge.audio.format import AudioFormat
from bridge.engine.config import FunctionTool, MaxTokens, OutputModality, SessionConfig, ToolChoice
from bridge.engine.ids import new_response_id
from bridge.engine.items import Item, ItemReference

ResponseStatus = Literal["in_progress", "completed", "cancelled", "failed", "incomplete"]
StatusReason = Literal["turn_detected", "client_cancelled", "max_output_tokens", "content_filter"]
ConversationMode = Literal["auto", "none"]

CONVERSATION_MODES: tuple[ConversationMode, ...] = ("auto", "none")


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
