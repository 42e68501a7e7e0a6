"""Vonage Voice API WebSockets (an NCCO ``connect`` action with a ``websocket`` endpoint).

Vonage opens the socket. Its first frame is text: ``{"event": "websocket:connected",
"content-type": "audio/l16;rate=16000", ...}`` with the NCCO endpoint's ``headers`` flattened in
at the top level. Vonage itself adds no call id or numbers, so the answer webhook must put them
in ``headers``; we read ``uuid`` (or ``call_uuid`` / ``conversation_uuid``), ``from`` and ``to``.

Audio flows both ways as binary frames of 16-bit little-endian PCM, one 20 ms frame per message
(320 bytes at 8 kHz, 640 at 16 kHz, 960 at 24 kHz). Other text events inbound: ``websocket:dtmf``
``{"digit": "5", "duration": 260}``, ``websocket:cleared`` (reply to ``{"action": "clear"}``) and
``websocket:notify`` (reply to ``{"action": "notify", "payload": {...}}`` once the audio queued
before it has played). Marks ride in the notify payload under :data:`MARK_KEY`. There is no stop
frame and no in-band hangup: the call ends when the socket closes, or through the REST API.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from bridge.audio.format import AudioFormat
from bridge.carriers.base import (
    AudioCleared,
    CallEvent,
    CallStarted,
    CarrierProtocolError,
    DtmfReceived,
    Frame,
    Ignored,
    MarkPlayed,
    MediaReceived,
    dtmf_key,
    json_object,
    whole_number,
)

RATES = (8000, 16000, 24000)  # the l16 rates Vonage offers on a WebSocket endpoint
MARK_KEY = "mark"  # where our mark name travels inside a notify payload
_CONTENT_TYPE = re.compile(r"^\s*audio/l16\s*;\s*rate\s*=\s*([0-9]{1,9})\s*$", re.IGNORECASE)
_CALL_ID_KEYS = ("uuid", "call_uuid", "conversation_uuid")
_FORMAT_KEYS = frozenset({"event", "content-type"})


def media_format(content_type: object) -> AudioFormat:
    """The format named by a ``content-type`` such as ``audio/l16;rate=16000``."""
    match = _CONTENT_TYPE.match(content_type) if isinstance(content_type, str) else None
    if match is None:
        raise CarrierProtocolError(f"unsupported content-type {content_type!r}")
    rate = int(match.group(1))
    if rate not in RATES:
        raise CarrierProtocolError(f"unsupported sample rate {rate} in content-type")
    return AudioFormat("pcm16", rate)


def _text(value: object) -> str:
    # Header values may be any JSON; keep strings as they are and serialise the rest.
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _dtmf(message: dict[str, Any]) -> DtmfReceived:
    nested = message.get("dtmf")
    # The documented shape is top-level ``digit``/``duration``; a nested ``dtmf`` object is
    # accepted too, since some integrations report receiving it.
    source = nested if isinstance(nested, dict) else message
    digit = dtmf_key(source.get("digit"))
    duration = source.get("duration")
    duration_ms = None if duration is None else whole_number(duration, "websocket:dtmf duration")
    return DtmfReceived(digit, duration_ms)


class VonageCodec:
    name = "vonage"
    playout_acks: Literal["mark", "none"] = "mark"  # via notify

    def __init__(self) -> None:
        self.media_format: AudioFormat | None = None

    def receive(self, frame: Frame) -> list[CallEvent]:
        if isinstance(frame, bytes):
            return [self._audio(frame)]
        message = json_object(frame)
        event = message.get("event")
        if event == "websocket:connected":
            return [self._connected(message)]
        if event == "websocket:dtmf":
            return [_dtmf(message)]
        if event == "websocket:cleared":
            return [AudioCleared()]
        if event == "websocket:notify":
            payload = message.get("payload")
            name = payload.get(MARK_KEY) if isinstance(payload, dict) else None
            if not isinstance(name, str):
                return [Ignored("notify without a mark")]
            return [MarkPlayed(name)]
        if not isinstance(event, str):
            raise CarrierProtocolError("text frame without an event")
        # Vonage documents that other JSON events may arrive at any time: not an error.
        return [Ignored(event)]

    def _connected(self, message: dict[str, Any]) -> CallStarted:
        if self.media_format is not None:
            raise CarrierProtocolError("second websocket:connected on one connection")
        fmt = media_format(message.get("content-type"))
        self.media_format = fmt
        headers = {k: _text(v) for k, v in message.items() if k not in _FORMAT_KEYS}
        call_id = next((headers[k] for k in _CALL_ID_KEYS if headers.get(k)), "")
        return CallStarted(
            call_id=call_id,
            media=fmt,
            from_number=headers.get("from", ""),
            to_number=headers.get("to", ""),
            parameters=headers,
        )

    def _audio(self, frame: bytes) -> MediaReceived:
        if self.media_format is None:
            raise CarrierProtocolError("audio before websocket:connected")
        if len(frame) % 2:
            raise CarrierProtocolError(f"audio frame of {len(frame)} bytes is not whole samples")
        return MediaReceived(frame)

    def media(self, audio: bytes) -> list[Frame]:
        if self.media_format is None:
            raise CarrierProtocolError("no call has started on this connection")
        size = self.media_format.frame_bytes
        # Vonage plays only whole 20 ms messages: cut longer audio, pad the tail with silence.
        frames: list[Frame] = []
        for start in range(0, len(audio), size):
            chunk = audio[start : start + size]
            frames.append(chunk + bytes(size - len(chunk)))
        return frames

    def mark(self, name: str) -> list[Frame]:
        return [json.dumps({"action": "notify", "payload": {MARK_KEY: name}})]

    def clear(self) -> list[Frame]:
        return [json.dumps({"action": "clear"})]

    def hangup(self) -> list[Frame]:
        return []  # only the REST API (PUT /v1/calls/{uuid} action=hangup) ends a Vonage call


class VonageCarrierSide:
    """What Vonage sends and does, for the simulated caller and tests."""

    def __init__(
        self,
        sample_rate: int = 16000,
        headers: dict[str, Any] | None = None,
    ) -> None:
        if sample_rate not in RATES:
            raise ValueError(f"Vonage offers {RATES} Hz, not {sample_rate}")
        self.media_format = AudioFormat("pcm16", sample_rate)
        self.headers: dict[str, Any] = (
            headers
            if headers is not None
            else {
                "uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
                "from": "447700900000",
                "to": "447700900001",
            }
        )

    def connected(self) -> str:
        content_type = f"audio/l16;rate={self.media_format.sample_rate}"
        opening = {"event": "websocket:connected", "content-type": content_type}
        return json.dumps(opening | self.headers)

    def media(self, audio: bytes) -> bytes:
        return bytes(audio)

    def dtmf(self, digit: str, duration_ms: int = 260) -> str:
        return json.dumps({"event": "websocket:dtmf", "digit": digit, "duration": duration_ms})

    def notify(self, payload: dict[str, Any]) -> str:
        """The echo of a notify once the audio queued before it has played."""
        return json.dumps({"event": "websocket:notify", "payload": payload})

    def mark(self, name: str) -> str:
        """The echo of one of our marks (a notify carrying it)."""
        return self.notify({MARK_KEY: name})

    def cleared(self) -> str:
        return json.dumps({"event": "websocket:cleared"})

    def stop(self) -> list[Frame]:
        return []  # Vonage sends no frame: it closes the WebSocket

    def parse(self, frame: Frame) -> tuple[str, Any]:
        """An outbound bridge frame as (``media``, audio) / (``mark``, name) / (``clear``, None)."""
        if isinstance(frame, bytes):
            size = self.media_format.frame_bytes
            if len(frame) != size:
                raise CarrierProtocolError(
                    f"Vonage needs {size}-byte (20 ms) audio messages, got {len(frame)} bytes"
                )
            return "media", frame
        message = json_object(frame)
        action = message.get("action")
        if action == "clear":
            return "clear", None
        if action == "notify":
            payload = message.get("payload")
            if not isinstance(payload, dict):
                raise CarrierProtocolError("Vonage would reject a notify without a payload object")
            return "mark", payload.get(MARK_KEY)
        raise CarrierProtocolError(f"Vonage would reject outbound action {action!r}")
