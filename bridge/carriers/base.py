"""What every carrier codec speaks: call events in, outbound messages out.

A codec is sans-I/O: it never touches a socket or a clock. The call adapter feeds it each
frame the carrier sent (``receive``) and writes whatever the codec returns. Audio crossing the
codec is *wire audio* in the carrier's negotiated format (:class:`AudioFormat`); the adapter
converts to and from the pipeline.

Each carrier module has two halves:

* the **bridge side** (``<Carrier>Codec``): what the bridge runs;
* the **carrier side** (``<Carrier>CarrierSide``): what the carrier itself would send and how it
  reacts (echoes marks once audio before them has "played", etc.). The simulated caller
  (``bridge call``) and the tests use it to speak the protocol exactly as the carrier does.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bridge.audio.format import AudioFormat
from bridge.json_limits import JsonTooDeep, loads

Frame = str | bytes  # a WebSocket text or binary frame, or a TCP chunk


class CarrierProtocolError(Exception):
    """A frame the codec cannot accept; the adapter logs it and, if fatal, ends the call."""


# --- events a codec reports (bridge side) ------------------------------------------------


@dataclass(frozen=True)
class CallStarted:
    """The call's identity and media format are known; audio may flow."""

    call_id: str  # the carrier's call id (CallSid, call_control_id, UUID, ...)
    media: AudioFormat
    stream_id: str = ""
    from_number: str = ""
    to_number: str = ""
    parameters: dict[str, str] = field(default_factory=dict)  # custom params, metadata


@dataclass(frozen=True)
class MediaReceived:
    audio: bytes  # wire audio in the call's AudioFormat


@dataclass(frozen=True)
class DtmfReceived:
    digit: str  # "0"-"9", "*", "#", "A"-"D"
    duration_ms: int | None = None


@dataclass(frozen=True)
class MarkPlayed:
    """The carrier played all audio sent before the mark ``name`` (or dropped it on clear)."""

    name: str


@dataclass(frozen=True)
class AudioCleared:
    """The carrier confirmed a clear: nothing queued is left."""


@dataclass(frozen=True)
class CallEnded:
    reason: str = "hangup"


@dataclass(frozen=True)
class Ignored:
    """A frame the codec understood and deliberately ignored (keep-alives, notices)."""

    what: str


CallEvent = (
    CallStarted | MediaReceived | DtmfReceived | MarkPlayed | AudioCleared | CallEnded | Ignored
)


class CarrierCodec(Protocol):
    """The bridge side of one call's media connection."""

    name: str
    # How the carrier acknowledges playout: "mark" (it echoes marks), or "none" (the adapter
    # must estimate from pacing).
    playout_acks: Literal["mark", "none"]

    def receive(self, frame: Frame) -> list[CallEvent]:
        """Parse one inbound frame. Raises CarrierProtocolError on malformed input."""
        ...

    def media(self, audio: bytes) -> list[Frame]:
        """Frames carrying ``audio`` (wire format: one 20 ms frame, or several consecutive ones
        where the codec's ``joins_frames`` attribute is true) to the caller."""
        ...

    def mark(self, name: str) -> list[Frame]:
        """Frames asking the carrier to report when audio sent so far has played ([] if n/a)."""
        ...

    def clear(self) -> list[Frame]:
        """Frames that drop audio the carrier has queued but not yet played (barge-in)."""
        ...

    def hangup(self) -> list[Frame]:
        """Frames that end the call in-band ([] when only a REST API can hang up)."""
        ...


# --- helpers for JSON carriers ---------------------------------------------------------


# Carrier messages nest three levels at most; anything much deeper is refused unparsed.
MAX_JSON_DEPTH = 16
DTMF_KEYS = frozenset("0123456789*#ABCD")
MAX_NUMBER_DIGITS = 9  # sample rates and durations; longer digit strings are not numbers here


def json_object(frame: Frame) -> dict[str, Any]:
    if isinstance(frame, bytes):
        raise CarrierProtocolError("binary frames are not part of this protocol")
    try:
        message = loads(frame, max_depth=MAX_JSON_DEPTH)
    except JsonTooDeep as exc:
        raise CarrierProtocolError(f"invalid message: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CarrierProtocolError(f"invalid JSON: {exc.msg}") from None
    if not isinstance(message, dict):
        raise CarrierProtocolError("a message must be a JSON object")
    return message


def section(message: dict[str, Any], key: str, *, required: bool = True) -> dict[str, Any]:
    """``message[key]`` as an object: absent (when not ``required``) reads as ``{}``; anything
    but an object is a protocol error."""
    value = message.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise CarrierProtocolError(f"{message.get('event')!r} event without a {key} object")
    return value


def dtmf_key(value: object) -> str:
    """One keypad key ("0"-"9", "*", "#", "A"-"D"); anything else is a protocol error (a
    "digit" of a megabyte would otherwise reach the agent's conversation)."""
    if not isinstance(value, str) or len(value) != 1 or value.upper() not in DTMF_KEYS:
        raise CarrierProtocolError(f"dtmf event with an invalid digit {value!r:.40}")
    return value.upper()


def whole_number(value: object, what: str) -> int:
    """A non-negative integer sent as a JSON number or a string of ASCII digits (carriers
    send both). ``str.isdigit`` and ``int`` accept other scripts' digits ("²", "８"), and
    ``int`` fails on infinities: both are protocol errors here."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < 10**MAX_NUMBER_DIGITS:
            return value
    elif isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdecimal() and len(text) <= MAX_NUMBER_DIGITS:
            return int(text)
    raise CarrierProtocolError(f"{what} {value!r:.40} is not a whole number")


def b64_payload(payload: object) -> bytes:
    if not isinstance(payload, str):
        raise CarrierProtocolError("media payload must be a base64 string")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise CarrierProtocolError("media payload is not valid base64") from None
