"""Plivo Audio Streaming (``<Stream bidirectional="true" keepCallAlive="true">``).

Inbound JSON text frames, camelCase: ``start``, ``media``, ``dtmf``, ``playedStream`` (a
checkpoint of ours has played) and ``clearedAudio`` (our clear is done). Counters arrive as
numbers, timestamps as strings of epoch milliseconds. There is no ``connected`` and no ``stop``
frame: when the call or stream ends the socket just closes (the end is reported to the
``statusCallbackUrl``). Outbound: ``playAudio`` (base64 audio in the stream's own format),
``checkpoint`` and ``clearAudio``.

The stream's format comes from the ``contentType`` attribute: ``audio/x-mulaw`` at 8 kHz or
``audio/x-l16`` (16-bit PCM, taken as little-endian) at 8 or 16 kHz. ``playAudio`` must use the
same one. Plivo echoes a checkpoint only if the audio before it played: checkpoints pending
at a clear never come back (the ``clearedAudio`` ack stands for them).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Literal

from bridge.audio import Encoding
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
    b64_payload,
    dtmf_key,
    json_object,
    whole_number,
)

PlivoContentType = Literal["audio/x-mulaw", "audio/x-l16"]
_FORMATS: dict[tuple[str, int], Encoding] = {
    ("audio/x-mulaw", 8000): "pcmu",
    ("audio/x-l16", 8000): "pcm16",
    ("audio/x-l16", 16000): "pcm16",
}
_CONTENT_TYPES: dict[Encoding, PlivoContentType] = {
    "pcmu": "audio/x-mulaw",
    "pcm16": "audio/x-l16",
}
# Plivo's own docs show both "k=v,k=v" (the XML attribute) and "k=v;k=v" (the start frame).
_HEADER_SEPARATORS = re.compile(r"[;,]")
_EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z: a fixed clock for the simulated carrier


def _section(message: dict[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    if not isinstance(value, dict):
        raise CarrierProtocolError(f"{message.get('event')} event without a {key} object")
    return value


def _sample_rate(value: object) -> int:
    # Plivo sends a number; playAudio accepts a number or a numeric string.
    return whole_number(value, "sampleRate")


def parse_extra_headers(raw: object) -> dict[str, str]:
    """The ``extra_headers`` string of a start frame as a dict (``k=v`` pairs)."""
    if not isinstance(raw, str):
        return {}
    pairs = (item.split("=", 1) for item in _HEADER_SEPARATORS.split(raw) if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs if key.strip()}


class PlivoCodec:
    name = "plivo"
    playout_acks: Literal["mark", "none"] = "mark"  # checkpoints come back as playedStream
    joins_frames = True  # a media message may carry several frames: fewer messages

    def __init__(self) -> None:
        self.stream_id = ""
        self.call_id = ""
        self.media_format: AudioFormat | None = None

    def receive(self, frame: Frame) -> list[CallEvent]:
        message = json_object(frame)
        event = message.get("event")
        if event == "start":
            return [self._start(message)]
        if event == "media":
            media = _section(message, "media")
            if media.get("track", "inbound") != "inbound":
                return [Ignored("outbound track")]
            return [MediaReceived(b64_payload(media.get("payload")))]
        if event == "dtmf":
            return [DtmfReceived(dtmf_key(_section(message, "dtmf").get("digit")))]
        if event in ("playedStream", "played"):  # older Plivo pages call the echo "played"
            name = message.get("name")
            if not isinstance(name, str):
                raise CarrierProtocolError(f"{event} event without a name")
            return [MarkPlayed(name)]
        if event == "clearedAudio":
            return [AudioCleared()]
        raise CarrierProtocolError(f"unknown Plivo event {event!r}")

    def _start(self, message: dict[str, Any]) -> CallStarted:
        start = _section(message, "start")
        call_id, stream_id = start.get("callId"), start.get("streamId")
        if not isinstance(call_id, str) or not call_id:
            raise CarrierProtocolError("start event without start.callId")
        if not isinstance(stream_id, str) or not stream_id:
            raise CarrierProtocolError("start event without start.streamId")
        fmt = start.get("mediaFormat")
        if not isinstance(fmt, dict):
            raise CarrierProtocolError("start event without start.mediaFormat")
        content_type, rate = fmt.get("encoding"), _sample_rate(fmt.get("sampleRate"))
        encoding = _FORMATS.get((str(content_type), rate))
        if encoding is None:
            raise CarrierProtocolError(f"unsupported Plivo media format {content_type!r} at {rate}")
        self.call_id, self.stream_id = call_id, stream_id
        self.media_format = AudioFormat(encoding, rate)
        params = parse_extra_headers(message.get("extra_headers"))
        return CallStarted(
            call_id=call_id,
            media=self.media_format,
            stream_id=stream_id,
            # Plivo's start carries no numbers; an app may pass them in extraHeaders.
            from_number=params.get("From", params.get("from", "")),
            to_number=params.get("To", params.get("to", "")),
            parameters=params,
        )

    def media(self, audio: bytes) -> list[Frame]:
        if self.media_format is None:
            raise CarrierProtocolError("playAudio before start: the stream format is not known")
        media = {
            "contentType": _CONTENT_TYPES[self.media_format.encoding],
            "sampleRate": self.media_format.sample_rate,
            "payload": base64.b64encode(audio).decode(),
        }
        return [json.dumps({"event": "playAudio", "media": media})]

    def mark(self, name: str) -> list[Frame]:
        return [json.dumps({"event": "checkpoint", "streamId": self.stream_id, "name": name})]

    def clear(self) -> list[Frame]:
        return [json.dumps({"event": "clearAudio", "streamId": self.stream_id})]

    def hangup(self) -> list[Frame]:
        return []  # only the REST API ends a Plivo call: DELETE /v1/Account/{id}/Call/{uuid}/


class PlivoCarrierSide:
    """What Plivo sends and does, for the simulated caller and tests."""

    def __init__(
        self,
        call_id: str = "12345678-1234-1234-1234-123456789abc",
        stream_id: str = "87654321-4321-4321-4321-cba987654321",
        content_type: PlivoContentType = "audio/x-mulaw",
        sample_rate: int = 8000,
        extra_headers: str = "",
        account_id: str = "MA0000000000000000001",
    ) -> None:
        if (content_type, sample_rate) not in _FORMATS:
            raise ValueError(f"Plivo does not stream {content_type} at {sample_rate} Hz")
        self.call_id = call_id
        self.stream_id = stream_id
        self.content_type = content_type
        self.sample_rate = sample_rate
        self.extra_headers = extra_headers
        self.account_id = account_id
        self._bytes_per_ms = sample_rate // 1000 * (2 if content_type == "audio/x-l16" else 1)
        self._sequence = 0
        self._chunk = 0
        self._elapsed_ms = 0

    def _next(self, event: str, **fields: Any) -> str:
        self._sequence += 1
        body = {"event": event, "sequenceNumber": self._sequence, "streamId": self.stream_id}
        return json.dumps(body | fields)

    def _timestamp(self) -> str:
        return str(_EPOCH_MS + self._elapsed_ms)

    def start(self) -> str:
        self._sequence += 1
        body: dict[str, Any] = {
            "event": "start",
            "sequenceNumber": self._sequence,
            "start": {
                "callId": self.call_id,
                "streamId": self.stream_id,
                "accountId": self.account_id,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": self.content_type, "sampleRate": self.sample_rate},
            },
        }
        if self.extra_headers:
            body["extra_headers"] = self.extra_headers
        return json.dumps(body)

    def media(self, audio: bytes) -> str:
        self._chunk += 1
        media = {
            "track": "inbound",
            "timestamp": self._timestamp(),
            "chunk": self._chunk,
            "payload": base64.b64encode(audio).decode(),
        }
        self._elapsed_ms += len(audio) // self._bytes_per_ms
        return self._next("media", media=media)

    def dtmf(self, digit: str) -> str:
        dtmf = {"track": "inbound", "digit": digit, "timestamp": self._timestamp()}
        return self._next("dtmf", dtmf=dtmf)

    def played(self, name: str) -> str:
        return self._next("playedStream", name=name)

    def cleared(self) -> str:
        return self._next("clearedAudio")

    def parse(self, frame: Frame) -> tuple[str, Any]:
        """An outbound bridge frame as (``media``, audio) / (``mark``, name) / (``clear``, None)."""
        message = json_object(frame)
        event = message.get("event")
        if event == "playAudio":
            media = _section(message, "media")
            if media.get("contentType") != self.content_type:
                raise CarrierProtocolError(
                    f"playAudio contentType {media.get('contentType')!r} is not the stream's "
                    f"{self.content_type}"
                )
            if _sample_rate(media.get("sampleRate")) != self.sample_rate:
                raise CarrierProtocolError(
                    f"playAudio sampleRate {media.get('sampleRate')!r} is not {self.sample_rate}"
                )
            audio = b64_payload(media.get("payload"))
            if self.content_type == "audio/x-l16" and len(audio) % 2:
                raise CarrierProtocolError("16-bit audio with an odd number of bytes")
            return "media", audio
        if event in ("checkpoint", "clearAudio") and message.get("streamId") != self.stream_id:
            raise CarrierProtocolError(f"{event} for stream {message.get('streamId')!r}")
        if event == "checkpoint":
            name = message.get("name")
            if not isinstance(name, str) or not name:
                raise CarrierProtocolError("Plivo would reject a checkpoint without a name")
            return "mark", name
        if event == "clearAudio":
            return "clear", None
        raise CarrierProtocolError(f"Plivo would reject outbound event {event!r}")
