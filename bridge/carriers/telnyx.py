"""Telnyx Media Streaming (Call Control ``stream_url`` with ``stream_bidirectional_mode=rtp``).

Inbound JSON text frames, snake_case with a top-level ``stream_id``: ``connected``, ``start``,
``media``, ``dtmf``, ``mark``, ``error``, ``stop``. Counters arrive as strings; the numbers in
``start.media_format`` arrive as numbers. Outbound: ``media`` (base64 RTP payload without
header, in the call's codec), ``mark``, ``clear``.

The stream's codec is PCMU or PCMA at 8 kHz. Telnyx picks the inbound codec (``stream_codec``)
and the playback codec (``stream_bidirectional_codec``, default PCMU) separately: whoever starts
the stream must request the same one for both, since a call has a single :class:`AudioFormat`.

When a stream token (``stream_auth_token``) is configured, Telnyx sends it in the
:data:`STREAM_TOKEN_HEADER` upgrade header and again in the ``connected`` frame.
"""

from __future__ import annotations

import base64
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bridge.audio import Encoding
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
)

STREAM_TOKEN_HEADER = "x-telnyx-streaming-auth-token"
TelnyxEncoding = Literal["PCMU", "PCMA"]
# Older Telnyx docs show the start frame's encoding as the MIME name "audio/x-mulaw".
_ENCODINGS: dict[str, Encoding] = {"PCMU": "pcmu", "PCMA": "pcma", "AUDIO/X-MULAW": "pcmu"}
# Telnyx accepts 20 ms to 30 s of RTP payload per outbound media frame (8 bytes/ms for G.711).
_MIN_MEDIA_BYTES = 20 * 8
_MAX_MEDIA_BYTES = 30_000 * 8


def stream_token_valid(presented: str | None, expected: str) -> bool:
    """Whether the token Telnyx presented matches ``expected`` (constant time; empty never does)."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def _section(message: dict[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    if not isinstance(value, dict):
        raise CarrierProtocolError(f"{message.get('event')} event without a {key} object")
    return value


def _parameters(raw: object) -> dict[str, str]:
    # The start frame carries a dict; the Call Control request's [{name, value}] form is also seen.
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {
            str(p["name"]): str(p.get("value", ""))
            for p in raw
            if isinstance(p, dict) and "name" in p
        }
    return {}


class TelnyxCodec:
    name = "telnyx"
    playout_acks: Literal["mark", "none"] = "mark"  # marks come back once played (or cleared)
    joins_frames = True  # a media message may carry several frames: fewer messages

    def __init__(self) -> None:
        self.stream_id = ""
        self.call_control_id = ""
        self.auth_token: str | None = None  # from the connected frame, when one is configured

    def receive(self, frame: Frame) -> list[CallEvent]:
        message = json_object(frame)
        event = message.get("event")
        if event == "connected":
            connected = message.get("connected")
            if isinstance(connected, dict) and isinstance(connected.get(STREAM_TOKEN_HEADER), str):
                self.auth_token = connected[STREAM_TOKEN_HEADER]
            return [Ignored("connected")]
        if event == "start":
            return [self._start(message)]
        if event == "media":
            media = _section(message, "media")
            if media.get("track", "inbound") not in ("inbound", "inbound_track"):
                return [Ignored("outbound track")]  # both_tracks streams echo our own audio
            return [MediaReceived(b64_payload(media.get("payload")))]
        if event == "dtmf":
            return [DtmfReceived(dtmf_key(_section(message, "dtmf").get("digit")))]
        if event == "mark":
            name = _section(message, "mark").get("name")
            if not isinstance(name, str):
                raise CarrierProtocolError("mark event without mark.name")
            return [MarkPlayed(name)]
        if event == "error":
            # Telnyx reports frames of ours it refused; the stream goes on, so only log it.
            # The details sit under "payload"; older Telnyx docs put them under "error".
            error = message.get("payload")
            if not isinstance(error, dict):
                error = message.get("error")
            error = error if isinstance(error, dict) else {}
            code, title = error.get("code", "?"), error.get("title", "")
            return [Ignored(f"error {code} {title}: {error.get('detail', '')}".strip())]
        if event == "stop":
            return [CallEnded("stop")]
        raise CarrierProtocolError(f"unknown Telnyx event {event!r}")

    def _start(self, message: dict[str, Any]) -> CallStarted:
        start = _section(message, "start")
        call_control_id = start.get("call_control_id")
        if not isinstance(call_control_id, str) or not call_control_id:
            raise CarrierProtocolError("start event without start.call_control_id")
        fmt = start.get("media_format")
        if not isinstance(fmt, dict):
            raise CarrierProtocolError("start event without start.media_format")
        encoding = _ENCODINGS.get(str(fmt.get("encoding", "")).upper())
        if encoding is None:
            raise CarrierProtocolError(
                f"unsupported Telnyx encoding {fmt.get('encoding')!r} (stream PCMU or PCMA)"
            )
        if str(fmt.get("sample_rate", 8000)) != "8000":
            raise CarrierProtocolError(f"G.711 must be 8000 Hz, got {fmt.get('sample_rate')!r}")
        self.stream_id = str(message.get("stream_id") or "")
        self.call_control_id = call_control_id
        return CallStarted(
            call_id=call_control_id,
            media=AudioFormat(encoding, 8000),
            stream_id=self.stream_id,
            from_number=str(start.get("from") or ""),
            to_number=str(start.get("to") or ""),
            parameters=_parameters(start.get("custom_parameters")),
        )

    def media(self, audio: bytes) -> list[Frame]:
        payload = base64.b64encode(audio).decode()
        return [json.dumps({"event": "media", "media": {"payload": payload}})]

    def mark(self, name: str) -> list[Frame]:
        return [json.dumps({"event": "mark", "mark": {"name": name}})]

    def clear(self) -> list[Frame]:
        return [json.dumps({"event": "clear"})]

    def hangup(self) -> list[Frame]:
        return []  # only Call Control ends the call: POST /v2/calls/{id}/actions/hangup


class TelnyxCarrierSide:
    """What Telnyx sends and does, for the simulated caller and tests."""

    def __init__(
        self,
        call_control_id: str = "v3:sim-0000000000000000000000000000000000000001",
        stream_id: str = "32de0dea-53cb-4b21-89a4-9e1819c043bc",
        encoding: TelnyxEncoding = "PCMU",
        from_number: str = "+13125550100",
        to_number: str = "+13125550199",
        parameters: dict[str, str] | None = None,
        auth_token: str | None = None,
        client_state: str | None = None,
    ) -> None:
        self.call_control_id = call_control_id
        self.stream_id = stream_id
        self.encoding = encoding
        self.from_number = from_number
        self.to_number = to_number
        self.parameters = parameters or {}
        self.auth_token = auth_token
        self.client_state = client_state
        self.user_id = "3e6f995f-85f7-4705-9741-53b116d28237"
        self.call_session_id = "ff55a038-6f5d-11ef-9692-02420aeffb1f"
        self._sequence = 0
        self._chunk = 0
        self._timestamp_ms = 0
        self._epoch = datetime(2025, 1, 1, tzinfo=UTC)

    def _next(self, event: str, **fields: Any) -> str:
        self._sequence += 1
        body = {"event": event, "sequence_number": str(self._sequence)}
        return json.dumps(body | fields | {"stream_id": self.stream_id})

    def _occurred_at(self) -> str:
        moment = self._epoch + timedelta(milliseconds=self._timestamp_ms)
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")

    def connected(self) -> str:
        body: dict[str, Any] = {"event": "connected", "version": "1.0.0"}
        if self.auth_token is not None:
            body["connected"] = {STREAM_TOKEN_HEADER: self.auth_token}
        return json.dumps(body)

    def upgrade_headers(self) -> dict[str, str]:
        """Headers on Telnyx's WebSocket upgrade request."""
        return {} if self.auth_token is None else {STREAM_TOKEN_HEADER: self.auth_token}

    def start(self) -> str:
        start: dict[str, Any] = {
            "user_id": self.user_id,
            "call_control_id": self.call_control_id,
            "call_session_id": self.call_session_id,
            "from": self.from_number,
            "to": self.to_number,
            "tags": [],
            "custom_parameters": self.parameters,
            "media_format": {"encoding": self.encoding, "sample_rate": 8000, "channels": 1},
        }
        if self.client_state is not None:
            start["client_state"] = self.client_state
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
        return self._next("dtmf", occurred_at=self._occurred_at(), dtmf={"digit": digit})

    def mark(self, name: str) -> str:
        return self._next("mark", mark={"name": name})

    def error(self, code: int = 100003, title: str = "Malformed frame", detail: str = "") -> str:
        return self._next("error", payload={"code": code, "title": title, "detail": detail})

    def stop(self) -> str:
        stop = {"user_id": self.user_id, "call_control_id": self.call_control_id}
        return self._next("stop", stop=stop)

    def parse(self, frame: Frame) -> tuple[str, Any]:
        """An outbound bridge frame as (``media``, audio) / (``mark``, name) / (``clear``, None)."""
        message = json_object(frame)
        event = message.get("event")
        if event == "media":
            audio = b64_payload(_section(message, "media").get("payload"))
            if not _MIN_MEDIA_BYTES <= len(audio) <= _MAX_MEDIA_BYTES:
                raise CarrierProtocolError(
                    f"Telnyx plays 20 ms to 30 s per media frame, got {len(audio)} bytes"
                )
            return "media", audio
        if event == "mark":
            name = _section(message, "mark").get("name")
            if not isinstance(name, str) or not name:
                raise CarrierProtocolError("Telnyx would reject a mark without mark.name")
            return "mark", name
        if event == "clear":
            return "clear", None
        raise CarrierProtocolError(f"Telnyx would reject outbound event {event!r}")
