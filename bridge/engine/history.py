"""A conversation's history: an ordered list of items, and its view as chat-completion messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bridge.engine import errors
from bridge.engine.errors import CommandError
from bridge.engine.items import (
    AudioPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioPart,
    InputTextPart,
    Item,
    ItemReference,
    MessageItem,
    TextPart,
)

ROOT = "root"  # previous_item_id that inserts at the start


def item_not_found(item_id: str, param: str = "item_id") -> CommandError:
    return CommandError(errors.INVALID_VALUE, f"Item with item_id '{item_id}' not found.", param)


class History:
    def __init__(self, max_items: int = 4096) -> None:
        self._items: list[Item] = []
        self._max_items = max_items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items)

    def __contains__(self, item: object) -> bool:
        return any(existing is item for existing in self._items)

    @property
    def last_id(self) -> str | None:
        return self._items[-1].id if self._items else None

    def get(self, item_id: str, param: str = "item_id") -> Item:
        for item in self._items:
            if item.id == item_id:
                return item
        raise item_not_found(item_id, param)

    def resolve(self, entries: tuple[Item | ItemReference, ...] | None) -> list[Item]:
        """A response's input: the whole history (None), or ``entries`` with each reference
        looked up (an unknown one is the API's error)."""
        if entries is None:
            return list(self._items)
        return [
            self.get(entry.id, f"response.input[{index}].id")
            if isinstance(entry, ItemReference)
            else entry
            for index, entry in enumerate(entries)
        ]

    def check_insert(self, item: Item, previous_item_id: str | None) -> None:
        """Raise the error :meth:`insert` would, without changing anything."""
        if any(existing.id == item.id for existing in self._items):
            raise CommandError(
                errors.INVALID_VALUE, f"Item with id '{item.id}' already exists.", "item.id"
            )
        if previous_item_id not in (None, ROOT):
            self.get(previous_item_id, "previous_item_id")
        if len(self._items) >= self._max_items:
            raise CommandError(
                errors.INVALID_VALUE,
                f"The conversation holds at most {self._max_items} items.",
                "item",
            )

    def insert(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Add ``item`` after ``previous_item_id`` (the end when None); returns its predecessor."""
        self.check_insert(item, previous_item_id)
        if previous_item_id is None:
            previous = self.last_id
            self._items.append(item)
            return previous
        if previous_item_id == ROOT:
            self._items.insert(0, item)
            return None
        index = next(i for i, existing in enumerate(self._items) if existing.id == previous_item_id)
        self._items.insert(index + 1, item)
        return previous_item_id

    def delete(self, item_id: str) -> Item:
        item = self.get(item_id)
        self._items.remove(item)
        return item


def item_text(item: MessageItem) -> str:
    """What a message says, with audio represented by its transcript."""
    pieces: list[str] = []
    for part in item.content:
        if isinstance(part, InputTextPart | TextPart):
            pieces.append(part.text)
        elif isinstance(part, InputAudioPart | AudioPart) and part.transcript:
            pieces.append(part.transcript)
    return " ".join(piece.strip() for piece in pieces if piece.strip())


def to_chat_messages(items: list[Item], instructions: str) -> list[dict[str, Any]]:
    """Chat-completion messages for the LLM: instructions first, then the items in order.

    Consecutive function calls become one assistant message with several ``tool_calls``, as
    chat-completion endpoints expect.
    """
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    for item in items:
        if isinstance(item, MessageItem):
            text = item_text(item)
            if text:
                messages.append({"role": item.role, "content": text})
        elif isinstance(item, FunctionCallItem):
            call = {
                "id": item.call_id,
                "type": "function",
                "function": {"name": item.name, "arguments": item.arguments or "{}"},
            }
            last = messages[-1] if messages else None
            if last and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif isinstance(item, FunctionCallOutputItem):
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
    return messages
