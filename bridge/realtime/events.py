"""Engine events on the realtime wire: :func:`render_event` spells an event of
:mod:`bridge.engine.events` in a client's dialect.

It returns the JSON-ready ``dict`` (with ``type`` and a fresh ``event_id``) or ``None`` when the
dialect has no such event:

* ``ConversationCreated`` exists in beta only (GA sends no ``conversation.created``);
* ``ConversationItemAdded`` is beta ``conversation.item.created`` / GA
  ``conversation.item.added``, and ``ConversationItemDone`` (GA ``conversation.item.done``) has
  no beta counterpart, so the engine emits both at the natural moments and each dialect keeps
  what it knows;
* ``InputAudioBufferTimeoutTriggered`` is GA only.

Wire names live in one table, :data:`WIRE_TYPES`. Events whose payload is just their fields
("flat" events) need no rendering code; the rest have an entry in :data:`PAYLOADS`. Events
holding a (mutable) item or response render it as it is *now*, so render before the engine
mutates further (the engine emits synchronously, so rendering inside ``emit`` is enough).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

from bridge.engine import events as ev
from bridge.engine.events import EngineEvent
from bridge.engine.ids import new_event_id
from bridge.engine.items import AudioPart, TextPart
from bridge.realtime.dialect import Dialect
from bridge.realtime.items import render_item
from bridge.realtime.response import render_response
from bridge.realtime.session_render import render_session

ServerEventDict = dict[str, Any]
Payload = Callable[[Any, Dialect], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Wire:
    """An event's ``type`` in each dialect; ``None`` where the dialect has no such event."""

    beta: str | None
    ga: str | None

    def type_for(self, dialect: Dialect) -> str | None:
        return self.beta if dialect is Dialect.BETA else self.ga


# Fields that only the GA event carries (GA added, and requires, the function name).
GA_ONLY_FIELDS: dict[type[EngineEvent], frozenset[str]] = {
    ev.ResponseFunctionCallArgumentsDone: frozenset({"name"}),
}


def wire_type(event: EngineEvent, dialect: Dialect) -> str | None:
    if isinstance(event, ev.SessionCreated | ev.SessionUpdated):
        verb = "created" if isinstance(event, ev.SessionCreated) else "updated"
        if dialect is Dialect.BETA and event.config.kind == "transcription":
            return f"transcription_session.{verb}"
        return f"session.{verb}"
    return WIRE_TYPES[type(event)].type_for(dialect)


def _flat(event: Any, dialect: Dialect) -> dict[str, Any]:
    skip = GA_ONLY_FIELDS.get(type(event), frozenset()) if dialect is Dialect.BETA else frozenset()
    return {f.name: getattr(event, f.name) for f in fields(event) if f.name not in skip}


def render_event(
    event: EngineEvent, dialect: Dialect, *, event_id: str | None = None
) -> ServerEventDict | None:
    """The event as the client's dialect spells it, or ``None`` if that dialect lacks it."""
    kind = wire_type(event, dialect)
    if kind is None:
        return None
    payload = PAYLOADS.get(type(event), _flat)(event, dialect)
    return {"type": kind, "event_id": event_id or new_event_id(), **payload}


def render_events(events: Iterable[EngineEvent], dialect: Dialect) -> list[ServerEventDict]:
    """Render several events, skipping those the dialect does not have."""
    return [e for e in (render_event(event, dialect) for event in events) if e is not None]


# --- payloads of the events that are more than their fields -------------------------------


def _session(event: ev.SessionCreated | ev.SessionUpdated, dialect: Dialect) -> dict[str, Any]:
    return {
        "session": render_session(
            event.config, dialect, event.session_id, expires_at=event.expires_at
        )
    }


def _conversation(event: ev.ConversationCreated, dialect: Dialect) -> dict[str, Any]:
    return {"conversation": {"id": event.conversation_id, "object": "realtime.conversation"}}


def _item_with_previous(
    event: ev.ConversationItemAdded | ev.ConversationItemDone, dialect: Dialect
) -> dict[str, Any]:
    return {"previous_item_id": event.previous_item_id, "item": render_item(event.item, dialect)}


def _retrieved(event: ev.ConversationItemRetrieved, dialect: Dialect) -> dict[str, Any]:
    # The one item event that carries audio bytes: it exists to fetch them.
    return {"item": render_item(event.item, dialect, include_audio=True)}


def _transcription_completed(
    event: ev.InputAudioTranscriptionCompleted, dialect: Dialect
) -> dict[str, Any]:
    return {
        "item_id": event.item_id,
        "content_index": event.content_index,
        "transcript": event.transcript,
        # Required by both SDKs; a local ASR is naturally accounted by audio duration.
        "usage": {"type": "duration", "seconds": event.audio_seconds},
    }


def _transcription_failed(
    event: ev.InputAudioTranscriptionFailed, dialect: Dialect
) -> dict[str, Any]:
    return {
        "item_id": event.item_id,
        "content_index": event.content_index,
        "error": {
            "type": event.error_type,
            "code": event.code,
            "message": event.message,
            "param": event.param,
        },
    }


def _response(event: ev.ResponseCreated | ev.ResponseDone, dialect: Dialect) -> dict[str, Any]:
    return {"response": render_response(event.response, dialect)}


def _output_item(
    event: ev.ResponseOutputItemAdded | ev.ResponseOutputItemDone, dialect: Dialect
) -> dict[str, Any]:
    return {
        "response_id": event.response_id,
        "output_index": event.output_index,
        "item": render_item(event.item, dialect),
    }


def _event_part(part: TextPart | AudioPart) -> dict[str, Any]:
    # Both SDKs type content_part events' parts as "text"/"audio", in GA too (unlike items).
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    return {"type": "audio", "transcript": part.transcript}


def _content_part(
    event: ev.ResponseContentPartAdded | ev.ResponseContentPartDone, dialect: Dialect
) -> dict[str, Any]:
    return {
        "response_id": event.response_id,
        "item_id": event.item_id,
        "output_index": event.output_index,
        "content_index": event.content_index,
        "part": _event_part(event.part),
    }


def _audio_delta(event: ev.ResponseAudioDelta, dialect: Dialect) -> dict[str, Any]:
    return {
        "response_id": event.response_id,
        "item_id": event.item_id,
        "output_index": event.output_index,
        "content_index": event.content_index,
        "delta": base64.b64encode(event.audio).decode("ascii"),
    }


def _rate_limits(event: ev.RateLimitsUpdated, dialect: Dialect) -> dict[str, Any]:
    return {
        "rate_limits": [
            {
                "name": limit.name,
                "limit": limit.limit,
                "remaining": limit.remaining,
                "reset_seconds": limit.reset_seconds,
            }
            for limit in event.rate_limits
        ]
    }


def _error(event: ev.ErrorEvent, dialect: Dialect) -> dict[str, Any]:
    return {
        "error": {
            "type": event.error_type,
            "code": event.code,
            "message": event.message,
            "param": event.param,
            "event_id": event.client_event_id,
        }
    }


PAYLOADS: dict[type[EngineEvent], Payload] = {
    ev.SessionCreated: _session,
    ev.SessionUpdated: _session,
    ev.ConversationCreated: _conversation,
    ev.ConversationItemAdded: _item_with_previous,
    ev.ConversationItemDone: _item_with_previous,
    ev.ConversationItemRetrieved: _retrieved,
    ev.InputAudioTranscriptionCompleted: _transcription_completed,
    ev.InputAudioTranscriptionFailed: _transcription_failed,
    ev.ResponseCreated: _response,
    ev.ResponseDone: _response,
    ev.ResponseOutputItemAdded: _output_item,
    ev.ResponseOutputItemDone: _output_item,
    ev.ResponseContentPartAdded: _content_part,
    ev.ResponseContentPartDone: _content_part,
    ev.ResponseAudioDelta: _audio_delta,
    ev.RateLimitsUpdated: _rate_limits,
    ev.ErrorEvent: _error,
}


def _both(name: str) -> Wire:
    return Wire(name, name)


# The table of wire names: neutral event -> (beta type, GA type).
WIRE_TYPES: dict[type[EngineEvent], Wire] = {
    ev.SessionCreated: _both("session.created"),  # beta transcription: transcription_session.*
    ev.SessionUpdated: _both("session.updated"),
    ev.ConversationCreated: Wire("conversation.created", None),
    ev.ConversationItemAdded: Wire("conversation.item.created", "conversation.item.added"),
    ev.ConversationItemDone: Wire(None, "conversation.item.done"),
    ev.ConversationItemRetrieved: _both("conversation.item.retrieved"),
    ev.ConversationItemTruncated: _both("conversation.item.truncated"),
    ev.ConversationItemDeleted: _both("conversation.item.deleted"),
    ev.InputAudioBufferCommitted: _both("input_audio_buffer.committed"),
    ev.InputAudioBufferCleared: _both("input_audio_buffer.cleared"),
    ev.InputAudioBufferSpeechStarted: _both("input_audio_buffer.speech_started"),
    ev.InputAudioBufferSpeechStopped: _both("input_audio_buffer.speech_stopped"),
    ev.InputAudioBufferTimeoutTriggered: Wire(None, "input_audio_buffer.timeout_triggered"),
    ev.InputAudioTranscriptionDelta: _both("conversation.item.input_audio_transcription.delta"),
    ev.InputAudioTranscriptionCompleted: _both(
        "conversation.item.input_audio_transcription.completed"
    ),
    ev.InputAudioTranscriptionFailed: _both("conversation.item.input_audio_transcription.failed"),
    ev.OutputAudioBufferStarted: _both("output_audio_buffer.started"),
    ev.OutputAudioBufferStopped: _both("output_audio_buffer.stopped"),
    ev.OutputAudioBufferCleared: _both("output_audio_buffer.cleared"),
    ev.ResponseCreated: _both("response.created"),
    ev.ResponseDone: _both("response.done"),
    ev.ResponseOutputItemAdded: _both("response.output_item.added"),
    ev.ResponseOutputItemDone: _both("response.output_item.done"),
    ev.ResponseContentPartAdded: _both("response.content_part.added"),
    ev.ResponseContentPartDone: _both("response.content_part.done"),
    ev.ResponseTextDelta: Wire("response.text.delta", "response.output_text.delta"),
    ev.ResponseTextDone: Wire("response.text.done", "response.output_text.done"),
    ev.ResponseAudioDelta: Wire("response.audio.delta", "response.output_audio.delta"),
    ev.ResponseAudioDone: Wire("response.audio.done", "response.output_audio.done"),
    ev.ResponseAudioTranscriptDelta: Wire(
        "response.audio_transcript.delta", "response.output_audio_transcript.delta"
    ),
    ev.ResponseAudioTranscriptDone: Wire(
        "response.audio_transcript.done", "response.output_audio_transcript.done"
    ),
    ev.ResponseFunctionCallArgumentsDelta: _both("response.function_call_arguments.delta"),
    ev.ResponseFunctionCallArgumentsDone: _both("response.function_call_arguments.done"),
    ev.RateLimitsUpdated: _both("rate_limits.updated"),
    ev.ErrorEvent: _both("error"),
}
