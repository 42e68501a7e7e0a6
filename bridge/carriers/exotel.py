"""Exotel AgentStream, Voicebot applet (bidirectional).

Inbound JSON text frames, snake_case with a top-level ``stream_sid``: ``connected``, ``start``,
``media``, ``dtmf`` (``digit`` and ``duration``), ``mark`` (our mark has played) and ``stop``.
Numbers arrive as strings. Outbound: ``media``, ``mark``, ``clear``. Audio both ways is base64
16-bit little-endian mono PCM (``media_format.encoding`` ``audio/x-raw``) at 8 kHz, or 16/24 kHz
when the applet URL asks for ``?sample-rate=``.

Outbound chunks must be a multiple of 320 bytes and at least 3.2 KB; smaller ones play with
gaps. Exotel calls 3.2 KB "100 ms", which holds at 16 kHz; at 8 kHz it is 200 ms. The codec
therefore buffers the adapter's 20 ms frames into chunks of at least 3.2 KB and 100 ms
(:func:`chunk_bytes`): at 8 kHz a frame waits up to 180 ms (``chunk_ms`` minus one frame) before
it leaves, which eats into the adapter's pacing lead. A mark flushes what is buffered, padded
with silence to a full chunk, so the mark follows its audio (up to 180 ms of silence at 8 kHz,
normally at the end of a clause); a clear drops what is buffered. Exotel has no in-band hangup:
closing the socket ends the applet.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

from bridge.audio.format import AudioFormat
from bridge.carriers.base import (
    CallEnded,
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

CHUNK_MULTIPLE = 320  # bytes; Exotel plays other sizes with gaps
MIN_CHUNK_BYTES = 3200  # Exotel's documented minimum (200 ms at 8 kHz, 100 ms at 16 kHz)
MAX_CHUNK_BYTES = 100_000  # larger chunks time out
MIN_CHUNK_MS = 100  # Exotel's "100 ms", kept at rates where 3.2 KB is shorter (24 kHz)
SAMPLE_RATES = (8000, 16000, 24000)
# "audio/x-raw" on Exotel's developer portal; "linear16" in Exotel's own AgentStream repository.
_RAW_ENCODINGS = ("audio/x-raw", "raw", "audio/l16", "audio/x-l16", "slin", "linear16")


def _section(message: dict[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    if not isinstance(value, dict):
        raise CarrierProtocolError(f"{message.get('event')} event without a {key} object")
    return value


def _pcm(payload: object) -> bytes:
    audio = b64_payload(payload)
    if len(audio) % 2:
        raise CarrierProtocolError("16-bit PCM payload with an odd number of bytes")
    return audio


def chunk_bytes(media: AudioFormat, min_bytes: int = MIN_CHUNK_BYTES) -> int:
    """Bytes per outbound chunk: at least ``min_bytes`` and 100 ms, a multiple of 320."""
    size = max(min_bytes, int(media.bytes_per_ms * MIN_CHUNK_MS))
    return -(-size // CHUNK_MULTIPLE) * CHUNK_MULTIPLE


class ExotelCodec:
    name = "exotel"
    playout_acks: Literal["mark", "none"] = "mark"  # Exotel echoes a mark once its audio played

    def __init__(self, min_chunk_bytes: int = MIN_CHUNK_BYTES) -> None:
        # A smaller minimum trades Exotel's jitter margin for latency; 3.2 KB is what it asks.
        self.min_chunk_bytes = min_chunk_bytes
        self.stream_sid = ""
        self.call_sid = ""
        self.media_format = AudioFormat("pcm16", 8000)  # the default until start says otherwise
        self._pending = bytearray()  # outbound audio short of a full chunk

    @property
    def chunk_bytes(self) -> int:
        return chunk_bytes(self.media_format, self.min_chunk_bytes)

    @property
    def chunk_ms(self) -> float:
        """Audio per outbound chunk: the most the codec holds back (less one frame)."""
        return self.chunk_bytes / self.media_format.bytes_per_ms

    def receive(self, frame: Frame) -> list[CallEvent]:
        message = json_object(frame)
        event = message.get("event")
        if event == "connected":
            return [Ignored("connected")]
        if event == "start":
            return [self._start(message)]
        if event == "media":
            media = _section(message, "media")
            if media.get("track", "inbound") != "inbound":
                return [Ignored("outbound track")]
            return [MediaReceived(_pcm(media.get("payload")))]
        if event == "dtmf":
            dtmf = _section(message, "dtmf")
            digit = dtmf.get("digit")
            if not isinstance(digit, str) or not digit:
                raise CarrierProtocolError("dtmf event without dtmf.digit")
            duration = dtmf.get("duration")
            try:
                duration_ms = None if duration in (None, "") else whole_number(duration, "")
            except CarrierProtocolError:
                duration_ms = None  # a key without a usable duration is still a key
            return [DtmfReceived(dtmf_key(digit), duration_ms)]
        if event == "mark":
            name = _section(message, "mark").get("name")
            if not isinstance(name, str):
                raise CarrierProtocolError("mark event without mark.name")
            return [MarkPlayed(name)]
        if event == "stop":
            stop = message.get("stop")
            reason = stop.get("reason") if isinstance(stop, dict) else None
            return [CallEnded(str(reason or "stop"))]  # "callended" or "stopped"
        raise CarrierProtocolError(f"unknown Exotel event {event!r}")

    def _start(self, message: dict[str, Any]) -> CallStarted:
        start = _section(message, "start")
        call_sid = start.get("call_sid")
        if not isinstance(call_sid, str) or not call_sid:
            raise CarrierProtocolError("start event without start.call_sid")
        fmt = start.get("media_format")
        if not isinstance(fmt, dict):
            raise CarrierProtocolError("start event without start.media_format")
        encoding = str(fmt.get("encoding", "audio/x-raw")).lower()
        if encoding not in _RAW_ENCODINGS or str(fmt.get("bit_rate", "16")) != "16":
            raise CarrierProtocolError(
                f"unsupported Exotel media format {encoding!r}/{fmt.get('bit_rate')!r} bit"
            )
        rate = whole_number(fmt.get("sample_rate", "8000"), "Exotel sample rate")
        if rate not in SAMPLE_RATES:
            raise CarrierProtocolError(f"unsupported Exotel sample rate {rate!r}")
        self.stream_sid = str(message.get("stream_sid") or start.get("stream_sid") or "")
        self.call_sid = call_sid
        self.media_format = AudioFormat("pcm16", rate)
        params = start.get("custom_parameters")
        params = params if isinstance(params, dict) else {}
        return CallStarted(
            call_id=call_sid,
            media=self.media_format,
            stream_id=self.stream_sid,
            from_number=str(start.get("from") or ""),
            to_number=str(start.get("to") or ""),
            parameters={str(k): str(v) for k, v in params.items()},
        )

    def _send(self, event: str, **fields: Any) -> str:
        return json.dumps({"event": event, "stream_sid": self.stream_sid, **fields})

    def _chunk(self, audio: bytes) -> str:
        return self._send("media", media={"payload": base64.b64encode(audio).decode()})

    def media(self, audio: bytes) -> list[Frame]:
        self._pending += audio
        size = self.chunk_bytes
        frames: list[Frame] = []
        while len(self._pending) >= size:
            frames.append(self._chunk(bytes(self._pending[:size])))
            del self._pending[:size]
        return frames

    def flush(self) -> list[Frame]:
        """Send what is buffered now, padded with silence to a full chunk."""
        if not self._pending:
            return []
        audio = bytes(self._pending).ljust(self.chunk_bytes, b"\x00")
        self._pending.clear()
        return [self._chunk(audio)]

    def mark(self, name: str) -> list[Frame]:
        # The mark must follow the audio before it, so that audio cannot wait for more.
        return [*self.flush(), self._send("mark", mark={"name": name})]

    def clear(self) -> list[Frame]:
        self._pending.clear()  # never sent, so nothing for Exotel to drop
        return [self._send("clear")]

    def hangup(self) -> list[Frame]:
        return []  # closing the socket hands the call to the flow's next applet


class ExotelCarrierSide:
    """What Exotel sends and does, for the simulated caller and tests."""

    def __init__(
        self,
        call_sid: str = "b6a1c7e0a6e94f0a9f3c2d1e0f9a8b7c",
        stream_sid: str = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
        from_number: str = "+919876543210",
        to_number: str = "+918047491899",
        parameters: dict[str, str] | None = None,
        sample_rate: int = 8000,
        account_sid: str = "exotelsim1",
    ) -> None:
        if sample_rate not in SAMPLE_RATES:
            raise ValueError(f"Exotel does not stream at {sample_rate} Hz")
        self.call_sid = call_sid
        self.stream_sid = stream_sid
        self.from_number = from_number
        self.to_number = to_number
        self.parameters = parameters or {}
        self.sample_rate = sample_rate
        self.account_sid = account_sid
        self._sequence = 0
        self._chunk = 0
        self._timestamp_ms = 0

    def _next(self, event: str, **fields: Any) -> str:
        self._sequence += 1
        body = {"event": event, "sequence_number": str(self._sequence)}
        return json.dumps(body | {"stream_sid": self.stream_sid} | fields)

    def connected(self) -> str:
        return json.dumps({"event": "connected"})

    def start(self) -> str:
        start = {
            "stream_sid": self.stream_sid,
            "call_sid": self.call_sid,
            "account_sid": self.account_sid,
            "from": self.from_number,
            "to": self.to_number,
            "custom_parameters": self.parameters,
            "media_format": {
                "encoding": "audio/x-raw",
                "sample_rate": str(self.sample_rate),
                "bit_rate": "16",
            },
        }
        return self._next("start", start=start)

    def media(self, audio: bytes) -> str:
        self._chunk += 1
        media = {
            "chunk": str(self._chunk),
            "timestamp": str(self._timestamp_ms),
            "payload": base64.b64encode(audio).decode(),
        }
        self._timestamp_ms += len(audio) // (self.sample_rate // 1000 * 2)
        return self._next("media", media=media)

    def dtmf(self, digit: str, duration_ms: int = 100) -> str:
        return self._next("dtmf", dtmf={"digit": digit, "duration": str(duration_ms)})

    def mark(self, name: str) -> str:
        return self._next("mark", mark={"name": name})

    def stop(self, reason: Literal["callended", "stopped"] = "callended") -> str:
        stop = {"call_sid": self.call_sid, "account_sid": self.account_sid, "reason": reason}
        return self._next("stop", stop=stop)

    def parse(self, frame: Frame) -> tuple[str, Any]:
        """An outbound bridge frame as (``media``, audio) / (``mark``, name) / (``clear``, None).

        Stricter than Exotel itself, which plays badly sized chunks with gaps instead of
        refusing them: any chunk outside the documented sizes is an error here.
        """
        message = json_object(frame)
        event = message.get("event")
        if "stream_sid" in message and message["stream_sid"] != self.stream_sid:
            raise CarrierProtocolError(f"{event} for stream {message['stream_sid']!r}")
        if event == "media":
            audio = _pcm(_section(message, "media").get("payload"))
            if len(audio) % CHUNK_MULTIPLE:
                raise CarrierProtocolError(f"{len(audio)} bytes is not a multiple of 320")
            if not MIN_CHUNK_BYTES <= len(audio) <= MAX_CHUNK_BYTES:
                raise CarrierProtocolError(f"{len(audio)} bytes is outside 3.2 KB to 100 KB")
            return "media", audio
        if event == "mark":
            name = _section(message, "mark").get("name")
            if not isinstance(name, str) or not name:
                raise CarrierProtocolError("Exotel would reject a mark without mark.name")
            return "mark", name
        if event == "clear":
            return "clear", None
        raise CarrierProtocolError(f"Exotel would reject outbound event {event!r}")
