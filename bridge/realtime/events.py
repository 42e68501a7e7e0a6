"""Server events: dialect-neutral objects and the one function that puts them on the wire.

The engine builds events such as ``ResponseTextDelta(...)`` and calls
:func:`render_event(event, dialect) <render_event>`, which returns the JSON-ready ``dict`` (with
``type`` and a fresh ``event_id``) or ``None`` when the client's dialect has no such event:

* ``ConversationCreated`` exists in beta only (GA sends no ``conversation.created``);
* ``ConversationItemAdded`` is beta ``conversation.item.created`` / GA
  ``conversation.item.added``, and ``ConversationItemDone`` (GA ``conversation.item.done``) has
  no beta counterpart, so the engine emits both at the natural moments and each dialect keeps
  what it knows;
* ``InputAudioBufferTimeoutTriggered`` is GA only.

Wire names live in one table, :data:`WIRE_TYPES`. Events whose payload is just their fields
("flat" events) need no rendering code at all; the rest override ``payload``. Events holding
a (mutable) item or response render it as it is *now*, so render before mutating further.

Order the API uses (and the engine should), per the realtime reference:

* connect: ``SessionCreated``, then ``ConversationCreated`` (dropped for GA);
* server VAD turn: ``InputAudioBufferSpeechStarted`` … ``SpeechStopped``,
  ``InputAudioBufferCommitted``, ``ConversationItemAdded`` (user item, then ``…Done`` for GA);
  transcription events follow asynchronously and may interleave with the response;
* response: ``ResponseCreated``; per output item ``ResponseOutputItemAdded``,
  ``ConversationItemAdded``, then for messages ``ResponseContentPartAdded``, text or
  audio + transcript deltas and their ``…Done``, ``ResponseContentPartDone`` (for function calls
  the argument deltas and ``…Done``), ``ResponseOutputItemDone``, ``ConversationItemDone``;
  finally ``ResponseDone`` (also after a cancel: status ``cancelled`` with reason
  ``client_cancelled`` or, on barge-in, ``turn_detected``; the ``…Done`` events of the
  interrupted parts are still sent).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

from bridge.realtime import errors
from bridge.realtime.dialect import Dialect
from bridge.realtime.errors import RealtimeProtocolError
from bridge.realtime.ids import new_event_id
from bridge.realtime.items import AudioPart, Item, TextPart, render_item
from bridge.realtime.response import Response, render_response
from bridge.realtime.session_config import SessionConfig
from bridge.realtime.session_render import render_session

ServerEventDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Wire:
    """An event's ``type`` in each dialect; ``None`` where the dialect has no such event."""

    beta: str | None
    ga: str | None

    def type_for(self, dialect: Dialect) -> str | None:
        return self.beta if dialect is Dialect.BETA else self.ga


class ServerEvent:
    """Base of all server events. Subclasses are frozen dataclasses listed in WIRE_TYPES."""

    __slots__ = ()

    # Fields that only one dialect's event carries (dropped from flat payloads elsewhere).
    GA_ONLY_FIELDS: ClassVar[frozenset[str]] = frozenset()

    def wire_type(self, dialect: Dialect) -> str | None:
        return WIRE_TYPES[type(self)].type_for(dialect)

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        skip = self.GA_ONLY_FIELDS if dialect is Dialect.BETA else frozenset()
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)  # type: ignore[arg-type]  # subclasses are dataclasses
            if f.name not in skip
        }


def render_event(
    event: ServerEvent, dialect: Dialect, *, event_id: str | None = None
) -> ServerEventDict | None:
    """The event as the client's dialect spells it, or ``None`` if that dialect lacks it."""
    wire_type = event.wire_type(dialect)
    if wire_type is None:
        return None
    return {"type": wire_type, "event_id": event_id or new_event_id(), **event.payload(dialect)}


def render_events(events: Iterable[ServerEvent], dialect: Dialect) -> list[ServerEventDict]:
    """Render several events, skipping those the dialect does not have."""
    return [e for e in (render_event(event, dialect) for event in events) if e is not None]


# --- session and conversation ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SessionEvent(ServerEvent):
    """session.created / session.updated; beta transcription sessions have their own names."""

    config: SessionConfig
    session_id: str
    expires_at: int | None = None
    VERB: ClassVar[str] = ""

    def wire_type(self, dialect: Dialect) -> str | None:
        if dialect is Dialect.BETA and self.config.kind == "transcription":
            return f"transcription_session.{self.VERB}"
        return f"session.{self.VERB}"

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        session = render_session(self.config, dialect, self.session_id, expires_at=self.expires_at)
        return {"session": session}


@dataclass(frozen=True, slots=True)
class SessionCreated(_SessionEvent):
    VERB: ClassVar[str] = "created"


@dataclass(frozen=True, slots=True)
class SessionUpdated(_SessionEvent):
    VERB: ClassVar[str] = "updated"


@dataclass(frozen=True, slots=True)
class ConversationCreated(ServerEvent):
    conversation_id: str

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {"conversation": {"id": self.conversation_id, "object": "realtime.conversation"}}


@dataclass(frozen=True, slots=True)
class ConversationItemAdded(ServerEvent):
    """An item entered the conversation (created by the client, a commit or a response)."""

    item: Item
    previous_item_id: str | None = None

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {"previous_item_id": self.previous_item_id, "item": render_item(self.item, dialect)}


@dataclass(frozen=True, slots=True)
class ConversationItemDone(ServerEvent):
    """An item is final (GA only; beta clients learn it from output_item.done)."""

    item: Item
    previous_item_id: str | None = None

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {"previous_item_id": self.previous_item_id, "item": render_item(self.item, dialect)}


@dataclass(frozen=True, slots=True)
class ConversationItemRetrieved(ServerEvent):
    item: Item

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        # The one item event that carries audio bytes: it exists to fetch them.
        return {"item": render_item(self.item, dialect, include_audio=True)}


@dataclass(frozen=True, slots=True)
class ConversationItemTruncated(ServerEvent):
    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class ConversationItemDeleted(ServerEvent):
    item_id: str


# --- input audio --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputAudioBufferCommitted(ServerEvent):
    item_id: str
    previous_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class InputAudioBufferCleared(ServerEvent):
    pass


@dataclass(frozen=True, slots=True)
class InputAudioBufferSpeechStarted(ServerEvent):
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class InputAudioBufferSpeechStopped(ServerEvent):
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class InputAudioBufferTimeoutTriggered(ServerEvent):
    item_id: str
    audio_start_ms: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class InputAudioTranscriptionDelta(ServerEvent):
    item_id: str
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class InputAudioTranscriptionCompleted(ServerEvent):
    item_id: str
    content_index: int
    transcript: str
    audio_seconds: float = 0.0

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "content_index": self.content_index,
            "transcript": self.transcript,
            # Required by both SDKs; a local ASR is naturally accounted by audio duration.
            "usage": {"type": "duration", "seconds": self.audio_seconds},
        }


@dataclass(frozen=True, slots=True)
class InputAudioTranscriptionFailed(ServerEvent):
    item_id: str
    content_index: int
    message: str
    code: str | None = None
    error_type: str = "transcription_error"
    param: str | None = None

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "content_index": self.content_index,
            "error": {
                "type": self.error_type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
            },
        }


# --- output audio buffer (WebRTC/SIP transports) ------------------------------------------


@dataclass(frozen=True, slots=True)
class OutputAudioBufferStarted(ServerEvent):
    response_id: str


@dataclass(frozen=True, slots=True)
class OutputAudioBufferStopped(ServerEvent):
    response_id: str


@dataclass(frozen=True, slots=True)
class OutputAudioBufferCleared(ServerEvent):
    response_id: str


# --- responses ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseCreated(ServerEvent):
    response: Response

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {"response": render_response(self.response, dialect)}


@dataclass(frozen=True, slots=True)
class ResponseDone(ServerEvent):
    response: Response

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {"response": render_response(self.response, dialect)}


@dataclass(frozen=True, slots=True)
class ResponseOutputItemAdded(ServerEvent):
    response_id: str
    output_index: int
    item: Item

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {
            "response_id": self.response_id,
            "output_index": self.output_index,
            "item": render_item(self.item, dialect),
        }


@dataclass(frozen=True, slots=True)
class ResponseOutputItemDone(ServerEvent):
    response_id: str
    output_index: int
    item: Item

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {
            "response_id": self.response_id,
            "output_index": self.output_index,
            "item": render_item(self.item, dialect),
        }


def _event_part(part: TextPart | AudioPart) -> dict[str, Any]:
    # Both SDKs type content_part events' parts as "text"/"audio", in GA too (unlike items).
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    return {"type": "audio", "transcript": part.transcript}


@dataclass(frozen=True, slots=True)
class ResponseContentPartAdded(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: TextPart | AudioPart

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {
            "response_id": self.response_id,
            "item_id": self.item_id,
            "output_index": self.output_index,
            "content_index": self.content_index,
            "part": _event_part(self.part),
        }


@dataclass(frozen=True, slots=True)
class ResponseContentPartDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: TextPart | AudioPart

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {
            "response_id": self.response_id,
            "item_id": self.item_id,
            "output_index": self.output_index,
            "content_index": self.content_index,
            "part": _event_part(self.part),
        }


@dataclass(frozen=True, slots=True)
class ResponseTextDelta(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class ResponseTextDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    text: str


@dataclass(frozen=True, slots=True)
class ResponseAudioDelta(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    audio: bytes  # raw bytes in the output format; base64-encoded on the wire

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {
            "response_id": self.response_id,
            "item_id": self.item_id,
            "output_index": self.output_index,
            "content_index": self.content_index,
            "delta": base64.b64encode(self.audio).decode("ascii"),
        }


@dataclass(frozen=True, slots=True)
class ResponseAudioDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int


@dataclass(frozen=True, slots=True)
class ResponseAudioTranscriptDelta(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class ResponseAudioTranscriptDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    transcript: str


@dataclass(frozen=True, slots=True)
class ResponseFunctionCallArgumentsDelta(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class ResponseFunctionCallArgumentsDone(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    name: str
    arguments: str

    GA_ONLY_FIELDS: ClassVar[frozenset[str]] = frozenset({"name"})  # GA added (and requires) it


# --- misc ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateLimit:
    name: Literal["requests", "tokens"]
    limit: int
    remaining: int
    reset_seconds: float


@dataclass(frozen=True, slots=True)
class RateLimitsUpdated(ServerEvent):
    rate_limits: tuple[RateLimit, ...]

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {
            "rate_limits": [
                {
                    "name": limit.name,
                    "limit": limit.limit,
                    "remaining": limit.remaining,
                    "reset_seconds": limit.reset_seconds,
                }
                for limit in self.rate_limits
            ]
        }


@dataclass(frozen=True, slots=True)
class ErrorEvent(ServerEvent):
    """``error``; ``client_event_id`` is the offending client event's id, when it had one."""

    message: str
    code: str | None = None
    param: str | None = None
    error_type: str = errors.INVALID_REQUEST
    client_event_id: str | None = None

    @classmethod
    def from_exception(cls, error: RealtimeProtocolError) -> ErrorEvent:
        return cls(
            message=error.message,
            code=error.code,
            param=error.param,
            error_type=error.type,
            client_event_id=error.event_id,
        )

    def payload(self, dialect: Dialect) -> dict[str, Any]:
        return {
            "error": {
                "type": self.error_type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "event_id": self.client_event_id,
            }
        }


def _both(name: str) -> Wire:
    return Wire(name, name)


# The table of wire names: neutral event -> (beta type, GA type).
WIRE_TYPES: dict[type[ServerEvent], Wire] = {
    SessionCreated: _both("session.created"),  # beta transcription: transcription_session.*
    SessionUpdated: _both("session.updated"),
    ConversationCreated: Wire("conversation.created", None),
    ConversationItemAdded: Wire("conversation.item.created", "conversation.item.added"),
    ConversationItemDone: Wire(None, "conversation.item.done"),
    ConversationItemRetrieved: _both("conversation.item.retrieved"),
    ConversationItemTruncated: _both("conversation.item.truncated"),
    ConversationItemDeleted: _both("conversation.item.deleted"),
    InputAudioBufferCommitted: _both("input_audio_buffer.committed"),
    InputAudioBufferCleared: _both("input_audio_buffer.cleared"),
    InputAudioBufferSpeechStarted: _both("input_audio_buffer.speech_started"),
    InputAudioBufferSpeechStopped: _both("input_audio_buffer.speech_stopped"),
    InputAudioBufferTimeoutTriggered: Wire(None, "input_audio_buffer.timeout_triggered"),
    InputAudioTranscriptionDelta: _both("conversation.item.input_audio_transcription.delta"),
    InputAudioTranscriptionCompleted: _both(
        "conversation.item.input_audio_transcription.completed"
    ),
    InputAudioTranscriptionFailed: _both("conversation.item.input_audio_transcription.failed"),
    OutputAudioBufferStarted: _both("output_audio_buffer.started"),
    OutputAudioBufferStopped: _both("output_audio_buffer.stopped"),
    OutputAudioBufferCleared: _both("output_audio_buffer.cleared"),
    ResponseCreated: _both("response.created"),
    ResponseDone: _both("response.done"),
    ResponseOutputItemAdded: _both("response.output_item.added"),
    ResponseOutputItemDone: _both("response.output_item.done"),
    ResponseContentPartAdded: _both("response.content_part.added"),
    ResponseContentPartDone: _both("response.content_part.done"),
    ResponseTextDelta: Wire("response.text.delta", "response.output_text.delta"),
    ResponseTextDone: Wire("response.text.done", "response.output_text.done"),
    ResponseAudioDelta: Wire("response.audio.delta", "response.output_audio.delta"),
    ResponseAudioDone: Wire("response.audio.done", "response.output_audio.done"),
    ResponseAudioTranscriptDelta: Wire(
        "response.audio_transcript.delta", "response.output_audio_transcript.delta"
    ),
    ResponseAudioTranscriptDone: Wire(
        "response.audio_transcript.done", "response.output_audio_transcript.done"
    ),
    ResponseFunctionCallArgumentsDelta: _both("response.function_call_arguments.delta"),
    ResponseFunctionCallArgumentsDone: _both("response.function_call_arguments.done"),
    RateLimitsUpdated: _both("rate_limits.updated"),
    ErrorEvent: _both("error"),
}
