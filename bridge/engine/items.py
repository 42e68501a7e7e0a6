"""Conversation items: messages (text and audio parts), function calls and their outputs.

Items are mutable on purpose: the engine streams text, transcripts and arguments into the
item it is building and flips its ``status`` when done. Audio is kept as raw bytes in the
session's wire format; how an item is spelled on any wire is :mod:`bridge.realtime.items`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bridge.engine.ids import new_call_id, new_item_id

Role = Literal["user", "assistant", "system"]
ItemStatus = Literal["in_progress", "completed", "incomplete"]

ROLES: tuple[Role, ...] = ("user", "assistant", "system")
ITEM_STATUSES: tuple[ItemStatus, ...] = ("in_progress", "completed", "incomplete")


@dataclass(slots=True)
class InputTextPart:
    text: str


@dataclass(slots=True)
class InputAudioPart:
    audio: bytes | None = None
    transcript: str | None = None  # filled in when input transcription completes


@dataclass(slots=True)
class TextPart:
    """Assistant text output."""

    text: str = ""


@dataclass(slots=True)
class AudioPart:
    """Assistant audio output and its transcript."""

    transcript: str = ""
    audio: bytes | None = None


ContentPart = InputTextPart | InputAudioPart | TextPart | AudioPart


@dataclass(slots=True)
class MessageItem:
    role: Role
    content: list[ContentPart] = field(default_factory=list)
    id: str = field(default_factory=new_item_id)
    status: ItemStatus = "completed"


@dataclass(slots=True)
class FunctionCallItem:
    name: str
    arguments: str = ""
    call_id: str = field(default_factory=new_call_id)
    id: str = field(default_factory=new_item_id)
    status: ItemStatus = "completed"


@dataclass(slots=True)
class FunctionCallOutputItem:
    call_id: str
    output: str
    id: str = field(default_factory=new_item_id)
    status: ItemStatus = "completed"


Item = MessageItem | FunctionCallItem | FunctionCallOutputItem


@dataclass(frozen=True, slots=True)
class ItemReference:
    """``{"type": "item_reference", "id": ...}``: only valid in ``response.create`` input."""

    id: str
