"""What the engine reports: plain, frozen data, one class per thing that happened.

Events hold the engine's own objects (items, responses, the session configuration) as they are
*now*; a door that puts them on a wire renders them at once (:mod:`bridge.realtime.events` for
the realtime API; a phone call reads audio deltas and speech starts directly). The order of
events is the order in which the engine emits them:

* connect: ``SessionCreated``, then ``ConversationCreated``;
* a turn: ``InputAudioBufferSpeechStarted`` … ``SpeechStopped``, ``InputAudioBufferCommitted``,
  ``ConversationItemAdded`` (the user item, then ``…Done``); transcription events follow
  asynchronously and may interleave with the response;
* a response: ``ResponseCreated``; per output item ``ResponseOutputItemAdded``,
  ``ConversationItemAdded``, then for messages ``ResponseContentPartAdded``, text or audio +
  transcript deltas and their ``…Done``, ``ResponseContentPartDone`` (for function calls the
  argument deltas and ``…Done``), ``ResponseOutputItemDone``, ``ConversationItemDone``; finally
  ``ResponseDone`` (also after a cancel: status ``cancelled`` with reason ``client_cancelled``
  or, on barge-in, ``turn_detected``; the ``…Done`` events of the interrupted parts still come).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bridge.engine.config import SessionConfig
from bridge.engine.errors import INVALID_REQUEST, CommandError
from bridge.engine.items import AudioPart, Item, TextPart
from bridge.engine.response import Response


class EngineEvent:
    """Base of all engine events (frozen dataclasses)."""

    __slots__ = ()


# --- session and conversation ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SessionEvent(EngineEvent):
    """session.created / session.updated; beta transcription sessions have their own names."""

    config: SessionConfig
    session_id: str
    expires_at: int | None = None


@dataclass(frozen=True, slots=True)
class SessionCreated(_SessionEvent):
    pass


@dataclass(frozen=True, slots=True)
class SessionUpdated(_SessionEvent):
    pass


@dataclass(frozen=True, slots=True)
class ConversationCreated(EngineEvent):
    conversation_id: str


@dataclass(frozen=True, slots=True)
class ConversationItemAdded(EngineEvent):
    """An item entered the conversation (created by the client, a commit or a response)."""

    item: Item
    previous_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationItemDone(EngineEvent):
    """An item is final (GA only; beta clients learn it from output_item.done)."""

    item: Item
    previous_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationItemRetrieved(EngineEvent):
    item: Item


@dataclass(frozen=True, slots=True)
class ConversationItemTruncated(EngineEvent):
    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class ConversationItemDeleted(EngineEvent):
    item_id: str


# --- input audio --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputAudioBufferCommitted(EngineEvent):
    item_id: str
    previous_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class InputAudioBufferCleared(EngineEvent):
    pass


@dataclass(frozen=True, slots=True)
class InputAudioBufferSpeechStarted(EngineEvent):
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class InputAudioBufferSpeechStopped(EngineEvent):
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class InputAudioBufferTimeoutTriggered(EngineEvent):
    item_id: str
    audio_start_ms: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class InputAudioTranscriptionDelta(EngineEvent):
    item_id: str
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class InputAudioTranscriptionCompleted(EngineEvent):
    item_id: str
    content_index: int
    transcript: str
    audio_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class InputAudioTranscriptionFailed(EngineEvent):
    item_id: str
    content_index: int
    message: str
    code: str | None = None
    error_type: str = "transcription_error"
    param: str | None = None


# --- output audio buffer (WebRTC/SIP transports) ------------------------------------------


@dataclass(frozen=True, slots=True)
class OutputAudioBufferStarted(EngineEvent):
    response_id: str


@dataclass(frozen=True, slots=True)
class OutputAudioBufferStopped(EngineEvent):
    response_id: str


@dataclass(frozen=True, slots=True)
class OutputAudioBufferCleared(EngineEvent):
    response_id: str


# --- responses ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseCreated(EngineEvent):
    response: Response


@dataclass(frozen=True, slots=True)
class ResponseDone(EngineEvent):
    response: Response


@dataclass(frozen=True, slots=True)
class ResponseOutputItemAdded(EngineEvent):
    response_id: str
    output_index: int
    item: Item


@dataclass(frozen=True, slots=True)
class ResponseOutputItemDone(EngineEvent):
    response_id: str
    output_index: int
    item: Item


@dataclass(frozen=True, slots=True)
class ResponseContentPartAdded(EngineEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: TextPart | AudioPart


@dataclass(frozen=True, slots=True)
class ResponseContentPartDone(EngineEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: TextPart | AudioPart


@dataclass(frozen=True, slots=True)
class ResponseTextDelta(EngineEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class ResponseTextDone(EngineEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    text: str


@dataclass(frozen=True, slots=True)
class ResponseAudioDelta(EngineEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    audio: bytes  # raw bytes in the output format; base64-encoded on the wire


@dataclass(frozen=True, slots=True)
class ResponseAudioDone(EngineEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int


@dataclass(frozen=True, slots=True)
class ResponseAudioTranscriptDelta(EngineEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class ResponseAudioTranscriptDone(EngineEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    transcript: str


@dataclass(frozen=True, slots=True)
class ResponseFunctionCallArgumentsDelta(EngineEvent):
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class ResponseFunctionCallArgumentsDone(EngineEvent):
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    name: str
    arguments: str


# --- misc ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateLimit:
    name: Literal["requests", "tokens"]
    limit: int
    remaining: int
    reset_seconds: float


@dataclass(frozen=True, slots=True)
class RateLimitsUpdated(EngineEvent):
    rate_limits: tuple[RateLimit, ...]


@dataclass(frozen=True, slots=True)
class ErrorEvent(EngineEvent):
    """``error``; ``client_event_id`` is the offending client event's id, when it had one."""

    message: str
    code: str | None = None
    param: str | None = None
    error_type: str = INVALID_REQUEST
    client_event_id: str | None = None

    @classmethod
    def from_exception(cls, error: CommandError) -> ErrorEvent:
        return cls(
            message=error.message,
            code=error.code,
            param=error.param,
            error_type=error.type,
            client_event_id=error.event_id,
        )
