"""Conversation items on the wire: client parsing and per-dialect rendering of
:mod:`bridge.engine.items`. Audio is decoded from the client's base64 and only re-encoded when
an event asks for it.

Dialect differences: assistant content is ``text``/``audio`` in beta and
``output_text``/``output_audio`` in GA (either spelling is accepted from clients); user content
is ``input_text``/``input_audio`` in both; every rendered item carries ``object:
"realtime.item"``, which both SDKs declare and the live beta server also sent.
"""

from __future__ import annotations

import base64
from typing import Any

from bridge.engine.items import (
    ITEM_STATUSES,
    ROLES,
    AudioPart,
    ContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioPart,
    InputTextPart,
    Item,
    ItemReference,
    MessageItem,
    Role,
    TextPart,
)
from bridge.realtime._fields import (
    JsonObject,
    decode_base64,
    expect_choice,
    expect_list,
    expect_object,
    expect_str,
    invalid_value,
    join,
    missing,
    optional_str,
    require,
)
from bridge.realtime.dialect import Dialect

ITEM_TYPES = ("message", "function_call", "function_call_output")
MAX_ITEM_ID_LENGTH = 32  # the API rejects longer client-chosen ids


# Content types each role may carry, keyed by wire name. Assistant parts accept both dialects'
# spellings so a client mixing them up is not punished for a cosmetic difference.
_ROLE_PARTS: dict[Role, tuple[str, ...]] = {
    "system": ("input_text",),
    "user": ("input_text", "input_audio"),
    "assistant": ("text", "audio", "output_text", "output_audio"),
}
_ROLE_PARTS_SHOWN: dict[Dialect, dict[Role, tuple[str, ...]]] = {
    Dialect.BETA: {
        "system": ("input_text",),
        "user": ("input_text", "input_audio"),
        "assistant": ("text", "audio"),
    },
    Dialect.GA: {
        "system": ("input_text",),
        "user": ("input_text", "input_audio"),
        "assistant": ("output_text", "output_audio"),
    },
}


def parse_client_item(payload: object, dialect: Dialect, *, param: str = "item") -> Item:
    """Validate the ``item`` of ``conversation.item.create``; errors name ``item.*`` params."""
    obj = expect_object(payload, param)
    kind = expect_choice(require(obj, "type", param), join(param, "type"), ITEM_TYPES)
    item_id = _parse_item_id(obj, param)
    if obj.get("status") is not None:
        # Accepted for symmetry with server items but, as in the API, without effect.
        expect_choice(obj["status"], join(param, "status"), ITEM_STATUSES)

    item: Item
    if kind == "message":
        role = expect_choice(require(obj, "role", param), join(param, "role"), ROLES)
        entries = expect_list(require(obj, "content", param), join(param, "content"))
        content = [
            _parse_part(entry, role, dialect, join(join(param, "content"), i))
            for i, entry in enumerate(entries)
        ]
        item = MessageItem(role=role, content=content)
    elif kind == "function_call":
        name = expect_str(require(obj, "name", param), join(param, "name"))
        arguments = optional_str(obj, "arguments", param) or ""
        call_id = optional_str(obj, "call_id", param)
        item = FunctionCallItem(name=name, arguments=arguments)
        if call_id:
            item.call_id = call_id
    else:
        call_id = expect_str(require(obj, "call_id", param), join(param, "call_id"))
        output = expect_str(require(obj, "output", param), join(param, "output"))
        item = FunctionCallOutputItem(call_id=call_id, output=output)
    if item_id is not None:
        item.id = item_id
    return item


def parse_input_item(payload: object, dialect: Dialect, *, param: str) -> Item | ItemReference:
    """An entry of ``response.create``'s ``input``: a full item or a reference to one."""
    obj = expect_object(payload, param)
    if obj.get("type") == "item_reference":
        return ItemReference(expect_str(require(obj, "id", param), join(param, "id")))
    return parse_client_item(obj, dialect, param=param)


def _parse_item_id(obj: JsonObject, param: str) -> str | None:
    value = obj.get("id")
    if value is None:
        return None
    item_id = expect_str(value, join(param, "id"), max_length=MAX_ITEM_ID_LENGTH)
    if not item_id:
        raise invalid_value(join(param, "id"), item_id, reason="Expected a non-empty id.")
    return item_id


def _parse_part(value: object, role: Role, dialect: Dialect, param: str) -> ContentPart:
    obj = expect_object(value, param)
    type_param = join(param, "type")
    kind = obj.get("type")
    if kind is None:
        raise missing(type_param)
    if not isinstance(kind, str) or kind not in _ROLE_PARTS[role]:
        expect_str(kind, type_param)
        raise invalid_value(
            type_param,
            kind,
            _ROLE_PARTS_SHOWN[dialect][role],
            f"Content of {role} messages must use one of these types.",
        )
    if kind == "input_text":
        return InputTextPart(expect_str(require(obj, "text", param), join(param, "text")))
    if kind in ("text", "output_text"):
        return TextPart(expect_str(require(obj, "text", param), join(param, "text")))
    audio = None if obj.get("audio") is None else decode_base64(obj["audio"], join(param, "audio"))
    transcript = optional_str(obj, "transcript", param)
    if kind == "input_audio":
        return InputAudioPart(audio=audio, transcript=transcript)
    return AudioPart(transcript=transcript or "", audio=audio)


def render_part(part: ContentPart, dialect: Dialect, *, include_audio: bool = False) -> JsonObject:
    """A content part as it appears inside an item."""
    rendered: JsonObject
    if isinstance(part, InputTextPart):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, TextPart):
        return {"type": "text" if dialect is Dialect.BETA else "output_text", "text": part.text}
    if isinstance(part, InputAudioPart):
        rendered = {"type": "input_audio", "transcript": part.transcript}
    else:
        kind = "audio" if dialect is Dialect.BETA else "output_audio"
        rendered = {"type": kind, "transcript": part.transcript}
    # Item events omit audio bytes (the API does too); conversation.item.retrieved has them.
    if include_audio and part.audio is not None:
        rendered["audio"] = base64.b64encode(part.audio).decode("ascii")
    return rendered


def render_item(item: Item, dialect: Dialect, *, include_audio: bool = False) -> JsonObject:
    base: dict[str, Any] = {"id": item.id, "object": "realtime.item"}
    if isinstance(item, MessageItem):
        return base | {
            "type": "message",
            "status": item.status,
            "role": item.role,
            "content": [render_part(p, dialect, include_audio=include_audio) for p in item.content],
        }
    if isinstance(item, FunctionCallItem):
        return base | {
            "type": "function_call",
            "status": item.status,
            "call_id": item.call_id,
            "name": item.name,
            "arguments": item.arguments,
        }
    return base | {
        "type": "function_call_output",
        "status": item.status,
        "call_id": item.call_id,
        "output": item.output,
    }
