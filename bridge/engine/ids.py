"""Object ids in OpenAI's style: a type prefix, an underscore and 21 random base62 characters."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_LENGTH = 21  # what OpenAI's realtime ids carry (``event_AsCUUSMsDXMWDAonxTFMU``)


def new_id(prefix: str, length: int = _LENGTH) -> str:
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_event_id() -> str:
    return new_id("event")


def new_item_id() -> str:
    return new_id("item")


def new_response_id() -> str:
    return new_id("resp")


def new_session_id() -> str:
    return new_id("sess")


def new_conversation_id() -> str:
    return new_id("conv")


def new_call_id() -> str:
    return new_id("call", 16)
