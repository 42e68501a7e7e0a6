"""Parsing of client text frames into small typed events.

:func:`parse_client_event` decodes one WebSocket text frame and returns one dataclass per
client event type, carrying the client's ``event_id``. Anything wrong raises
:class:`CommandError` with the client's ``event_id`` attached (when it could be read),
ready to become an ``error`` event; the connection stays open.

Session payloads are only checked to be objects here: their validation needs the current
configuration and happens in :func:`bridge.realtime.session_config.apply_update`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bridge.engine import errors
from bridge.engine.errors import CommandError
from bridge.engine.items import Item
from bridge.engine.response import ResponseParams
from bridge.json_limits import DEFAULT_MAX_DEPTH, JsonTooDeep, loads
from bridge.realtime._fields import (
    JsonObject,
    decode_base64,
    expect_int,
    expect_object,
    expect_str,
    invalid_type,
    invalid_value,
    optional_str,
    require,
)
from bridge.realtime.dialect import Dialect
from bridge.realtime.items import parse_client_item
from bridge.realtime.response import parse_response_params

MAX_APPEND_BYTES = 15 * 1024 * 1024  # the API's documented limit for one append


@dataclass(frozen=True, slots=True)
class SessionUpdate:
    event_id: str | None
    session: JsonObject  # validated later by apply_update


@dataclass(frozen=True, slots=True)
class TranscriptionSessionUpdate:
    """Beta only."""

    event_id: str | None
    session: JsonObject


@dataclass(frozen=True, slots=True)
class InputAudioBufferAppend:
    event_id: str | None
    audio: bytes


@dataclass(frozen=True, slots=True)
class InputAudioBufferCommit:
    event_id: str | None


@dataclass(frozen=True, slots=True)
class InputAudioBufferClear:
    event_id: str | None


@dataclass(frozen=True, slots=True)
class ConversationItemCreate:
    event_id: str | None
    item: Item
    previous_item_id: str | None = None  # "root" inserts at the start


@dataclass(frozen=True, slots=True)
class ConversationItemRetrieve:
    event_id: str | None
    item_id: str


@dataclass(frozen=True, slots=True)
class ConversationItemTruncate:
    event_id: str | None
    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class ConversationItemDelete:
    event_id: str | None
    item_id: str


@dataclass(frozen=True, slots=True)
class ResponseCreate:
    event_id: str | None
    params: ResponseParams


@dataclass(frozen=True, slots=True)
class ResponseCancel:
    event_id: str | None
    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutputAudioBufferClear:
    event_id: str | None


ClientEvent = (
    SessionUpdate
    | TranscriptionSessionUpdate
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
    | ConversationItemCreate
    | ConversationItemRetrieve
    | ConversationItemTruncate
    | ConversationItemDelete
    | ResponseCreate
    | ResponseCancel
    | OutputAudioBufferClear
)


def _session_update(obj: JsonObject, event_id: str | None, dialect: Dialect) -> ClientEvent:
    return SessionUpdate(event_id, expect_object(require(obj, "session", ""), "session"))


def _transcription_session_update(
    obj: JsonObject, event_id: str | None, dialect: Dialect
) -> ClientEvent:
    return TranscriptionSessionUpdate(
        event_id, expect_object(require(obj, "session", ""), "session")
    )


def _append(obj: JsonObject, event_id: str | None, dialect: Dialect) -> ClientEvent:
    audio = decode_base64(require(obj, "audio", ""), "audio")
    if len(audio) > MAX_APPEND_BYTES:
        raise CommandError(
            errors.INVALID_VALUE,
            f"Invalid 'audio': at most {MAX_APPEND_BYTES} bytes may be appended at once.",
            "audio",
        )
    return InputAudioBufferAppend(event_id, audio)


def _commit(obj: JsonObject, event_id: str | None, dialect: Dialect) -> ClientEvent:
    return InputAudioBufferCommit(event_id)


def _clear(obj: JsonObject, event_id: str | None, dialect: Dialect) -> ClientEvent:
    return InputAudioBufferClear(event_id)


def _item_create(obj: JsonObject, event_id: str | None, dialect: Dialect) -> ClientEvent:
    item = parse_client_item(require(obj, "item", ""), dialect)
    return ConversationItemCreate(event_id, item, optional_str(obj, "previous_item_id", ""))


def _item_id(obj: JsonObject) -> str:
    return expect_str(require(obj, "item_id", ""), "item_id")


def _item_retrieve(obj: JsonObject, event_id: str | None, dialect: Dialect) -> ClientEvent:
    return ConversationItemRetrieve(event_id, _item_id(obj))


def _item_truncate(obj: JsonObject, event_id: str | None, dialect: Dialect) -> ClientEvent:
    item_id = _item_id(obj)
    content_index = expect_int(require(obj, "content_index", ""), "content_index", minimum=0)
    audio_end_ms = expect_int(require(obj, "audio_end_ms", ""), "audio_end_ms", minimum=0)
    return ConversationItemTruncate(event_id, item_id, content_index, audio_end_ms)


def _item_delete(obj: JsonObject, event_id: str | None, dialect: Dialect) -> ClientEvent:
    return ConversationItemDelete(event_id, _item_id(obj))


def _response_create(obj: JsonObject, event_id: str | None, dialect: Dialect) -> ClientEvent:
    return ResponseCreate(event_id, parse_response_params(obj.get("response"), dialect))


def _response_cancel(obj: JsonObject, event_id: str | None, dialect: Dialect) -> ClientEvent:
    return ResponseCancel(event_id, optional_str(obj, "response_id", ""))


def _output_clear(obj: JsonObject, event_id: str | None, dialect: Dialect) -> ClientEvent:
    return OutputAudioBufferClear(event_id)


_Parser = Callable[[JsonObject, str | None, Dialect], ClientEvent]

_COMMON: dict[str, _Parser] = {
    "session.update": _session_update,
    "input_audio_buffer.append": _append,
    "input_audio_buffer.commit": _commit,
    "input_audio_buffer.clear": _clear,
    "conversation.item.create": _item_create,
    "conversation.item.retrieve": _item_retrieve,
    "conversation.item.truncate": _item_truncate,
    "conversation.item.delete": _item_delete,
    "response.create": _response_create,
    "response.cancel": _response_cancel,
    "output_audio_buffer.clear": _output_clear,
}
# GA folded transcription sessions into session.update {"type": "transcription"}.
_PARSERS: dict[Dialect, dict[str, _Parser]] = {
    Dialect.BETA: _COMMON | {"transcription_session.update": _transcription_session_update},
    Dialect.GA: dict(_COMMON),
}


def client_event_types(dialect: Dialect) -> tuple[str, ...]:
    return tuple(_PARSERS[dialect])


def parse_client_event(
    frame: str | bytes, dialect: Dialect, *, max_depth: int = DEFAULT_MAX_DEPTH
) -> ClientEvent:
    """Decode and validate one client frame; raise CommandError if it is unusable.

    Arrays and objects may nest ``max_depth`` levels (``BRIDGE_MAX_JSON_DEPTH``): deeper
    text is refused before it is parsed, since parsing it would exhaust the stack."""
    try:
        data = loads(frame, max_depth=max_depth)
    except JsonTooDeep as exc:
        raise CommandError(
            errors.INVALID_JSON, f"The event is not acceptable JSON: {exc}.", None
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise CommandError(
            errors.INVALID_JSON, f"The event is not valid JSON: {exc}.", None
        ) from None
    if not isinstance(data, dict):
        raise CommandError(errors.INVALID_EVENT, "An event must be a JSON object.", None)

    event_id = data.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        raise invalid_type("event_id", "a string", event_id)
    try:
        kind = data.get("type")
        if kind is None:
            raise CommandError(errors.INVALID_EVENT, "The 'type' field is missing.", "type")
        if not isinstance(kind, str):
            raise CommandError(
                errors.INVALID_EVENT,
                invalid_type("type", "a string", kind).message,
                "type",
            )
        parser = _PARSERS[dialect].get(kind)
        if parser is None:
            error = invalid_value("type", kind, _PARSERS[dialect])
            raise CommandError(errors.INVALID_EVENT, error.message, "type")
        return parser(data, event_id, dialect)
    except CommandError as error:
        raise error.with_event_id(event_id) from None
