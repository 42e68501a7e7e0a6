"""What a door asks of the engine: one small frozen dataclass per command.

A realtime client's events, a phone call's audio and a dialplan's wishes all arrive as these.
The realtime wire layer turns client frames into commands (resolving ``session.update`` against
the current configuration first), so the engine never sees JSON or a dialect. A command the
engine refuses raises :class:`~bridge.engine.errors.CommandError` before any state changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.engine.config import SessionConfig
from bridge.engine.items import Item
from bridge.engine.response import ResponseParams


@dataclass(frozen=True, slots=True)
class AppendAudio:
    """Caller audio in the session's input format; server VAD may end a turn on it."""

    audio: bytes


@dataclass(frozen=True, slots=True)
class CommitAudio:
    """Turn the buffered input audio into a user item (push-to-talk)."""


@dataclass(frozen=True, slots=True)
class ClearAudio:
    """Drop the buffered input audio."""


@dataclass(frozen=True, slots=True)
class UpdateConfig:
    config: SessionConfig


@dataclass(frozen=True, slots=True)
class CreateItem:
    item: Item
    previous_item_id: str | None = None  # "root" inserts at the start


@dataclass(frozen=True, slots=True)
class RetrieveItem:
    item_id: str


@dataclass(frozen=True, slots=True)
class TruncateItem:
    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class DeleteItem:
    item_id: str


@dataclass(frozen=True, slots=True)
class CreateResponse:
    params: ResponseParams = field(default_factory=ResponseParams)


@dataclass(frozen=True, slots=True)
class CancelResponse:
    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class ClearOutputAudio:
    """Stop the assistant's audio at the listener now (the reply itself goes on)."""


Command = (
    AppendAudio
    | CommitAudio
    | ClearAudio
    | UpdateConfig
    | CreateItem
    | RetrieveItem
    | TruncateItem
    | DeleteItem
    | CreateResponse
    | CancelResponse
    | ClearOutputAudio
)
