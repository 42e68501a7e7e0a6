"""Twilio Media Streams (bidirectional ``<Connect><Stream>``); SignalWire speaks the same.

Inbound JSON text frames: ``connected``, ``start``, ``media``, ``dtmf``, ``mark``, ``stop``
(numbers arrive as strings). Outbound: ``media`` (base64 μ-law 8 kHz, no header), ``mark``,
``clear``. Binary frames are a protocol error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from html import escape
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
    section,
)

MULAW_8K = AudioFormat("pcmu", 8000)


class TwilioCodec:
    name = "twilio"
    playout_acks: Literal["mark", "none"] = "mark"
    joins_frames = True  # a media message may carry several frames: fewer messages

    def __init__(self) -> None:
        self.stream_sid = ""

    def receive(self, frame: Frame) -> list[CallEvent]:
        message = json_object(frame)
        event = message.get("event")
        if event == "connected":
            return [Ignored("connected")]
        if event == "start":
            start = section(message, "start")
            self.stream_sid = str(start.get("streamSid") or message.get("streamSid") or "")
            fmt = section(start, "mediaFormat", required=False)
            if fmt.get("encoding", "audio/x-mulaw") != "audio/x-mulaw":
                raise CarrierProtocolError(f"unsupported encoding {fmt.get('encoding')!r}")
            params = section(start, "customParameters", required=False)
            return [
                CallStarted(
                    call_id=str(start.get("callSid", "")),
                    media=MULAW_8K,
                    stream_id=self.stream_sid,
                    from_number=str(params.get("From", "")),
                    to_number=str(params.get("To", "")),
                    parameters={str(k): str(v) for k, v in params.items()},
                )
            ]
        if event == "media":
            media = section(message, "media")
            if media.get("track", "inbound") not in ("inbound", "inbound_track"):
                return [Ignored("outbound track")]
            return [MediaReceived(b64_payload(media.get("payload")))]
        if event == "dtmf":
            return [DtmfReceived(dtmf_key(section(message, "dtmf").get("digit")))]
        if event == "mark":
            name = section(message, "mark").get("name")
            if not isinstance(name, str):
                raise CarrierProtocolError("mark event without mark.name")
            return [MarkPlayed(name)]
        if event == "stop":
            return [CallEnded("stop")]
        raise CarrierProtocolError(f"unknown event {event!r}")

    def _send(self, event: str, **fields: Any) -> str:
        return json.dumps({"event": event, "streamSid": self.stream_sid, **fields})

    def media(self, audio: bytes) -> list[Frame]:
        return [self._send("media", media={"payload": base64.b64encode(audio).decode()})]

    def mark(self, name: str) -> list[Frame]:
        return [self._send("mark", mark={"name": name})]

    def clear(self) -> list[Frame]:
        return [self._send("clear")]

    def hangup(self) -> list[Frame]:
        return []  # only the REST API ends a Twilio call


class TwilioCarrierSide:
    """What Twilio sends and does, for the simulated caller and tests."""

    def __init__(
        self,
        call_sid: str = "CA00000000000000000000000000000001",
        stream_sid: str = "MZ00000000000000000000000000000001",
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.call_sid = call_sid
        self.stream_sid = stream_sid
        self.parameters = parameters or {}
        self._sequence = 0
        self._chunk = 0
        self._timestamp_ms = 0

    def _next(self, event: str, **fields: Any) -> str:
        self._sequence += 1
        body = {"event": event, "sequenceNumber": str(self._sequence), "streamSid": self.stream_sid}
        return json.dumps(body | fields)

    def connected(self) -> str:
        return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    def start(self) -> str:
        start = {
            "accountSid": "AC00000000000000000000000000000001",
            "streamSid": self.stream_sid,
            "callSid": self.call_sid,
            "tracks": ["inbound"],
            "customParameters": self.parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        return self._next("start", start=start)

    def media(self, audio: bytes) -> str:
        self._chunk += 1
        media = {
            "track": "inbound",
            "chunk": str(self._chunk),
            "timestamp": str(self._timestamp_ms),
            "payload": base64.b64encode(audio).decode(),
        }
        self._timestamp_ms += len(audio) // 8
        return self._next("media", media=media)

    def dtmf(self, digit: str) -> str:
        return self._next("dtmf", dtmf={"track": "inbound_track", "digit": digit})

    def mark(self, name: str) -> str:
        return self._next("mark", mark={"name": name})

    def stop(self) -> str:
        stop = {"accountSid": "AC00000000000000000000000000000001", "callSid": self.call_sid}
        return self._next("stop", stop=stop)

    def parse(self, frame: Frame) -> tuple[str, Any]:
        """An outbound bridge frame as (``media``, audio) / (``mark``, name) / (``clear``, None)."""
        message = json_object(frame)
        event = message.get("event")
        if event == "media":
            return "media", b64_payload((message.get("media") or {}).get("payload"))
        if event == "mark":
            return "mark", (message.get("mark") or {}).get("name")
        if event == "clear":
            return "clear", None
        raise CarrierProtocolError(f"Twilio would reject outbound event {event!r}")


def twilio_signature(auth_token: str, url: str, params: dict[str, str] | None = None) -> str:
    """``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL followed by the sorted POST
    parameters, each name immediately followed by its value."""
    payload = url + "".join(f"{key}{value}" for key, value in sorted((params or {}).items()))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def valid_twilio_signature(
    auth_token: str, signature: str | None, url: str, params: dict[str, str] | None = None
) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(twilio_signature(auth_token, url, params), signature)


def connect_stream_twiml(stream_url: str, parameters: dict[str, str]) -> str:
    """TwiML that connects the call to a bidirectional media stream (no query in the URL:
    per-call values travel as ``<Parameter>`` and return in ``start.customParameters``)."""
    params = "".join(
        f'<Parameter name="{escape(k, quote=True)}" value="{escape(v, quote=True)}"/>'
        for k, v in parameters.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Response><Connect><Stream url="{escape(stream_url, quote=True)}">{params}'
        "</Stream></Connect></Response>"
    )
