"""jambonz ``listen`` and FreeSWITCH ``mod_audio_fork`` (same wire protocol).

jambonz (through mod_audio_fork) opens the socket with subprotocol ``audio.jambonz.org``; plain
mod_audio_fork advertises ``audio.drachtio.org``. The first frame is text: a JSON object of the
call's attributes (``callSid``, ``from``, ``to``, ``direction``, ...), ``sampleRate`` and
``mixType``, with the verb's ``metadata`` merged in at the top level. Then the caller's audio
arrives as binary frames of 16-bit little-endian PCM at ``sampleRate``.

We use bidirectional *streaming* (jambonz 0.9.0+): the verb must say
``"bidirectionalAudio": {"enabled": true, "streaming": true, "sampleRate": <sampleRate>}`` and
``"mixType": "mono"``; ``passDtmf: true`` forwards keypresses. The output rate is not in the
metadata, so it must equal ``sampleRate``. Streaming lets us pace binary frames like any other
carrier, where the older ``playAudio`` command plays one base64 file at a time (and is ignored
while streaming is on). Outbound text commands:

* ``{"type": "mark", "data": {"name": n}}`` - echoed as ``{"type": "mark", "data": {"name": n,
  "event": "playout"}}`` once the audio sent before it has played, or with ``"event":
  "cleared"`` when a ``killAudio`` dropped it;
* ``{"type": "killAudio"}`` - drops queued audio (no reply of its own; pending marks come back
  ``cleared``);
* ``{"type": "disconnect"}`` - ends the ``listen`` verb; jambonz then runs the app's next verb
  (none, or ``hangup``, ends the call).

mod_audio_fork holds at most 30 pending marks and silently drops more; paced sending keeps far
fewer in flight.

DTMF arrives as ``{"event": "dtmf", "dtmf": "2", "duration": "1600"}``; the duration is in
8 kHz timestamp units, as FreeSWITCH reports it (1600 = 200 ms). The call's end is the socket
closing: there is no stop frame.
"""

from __future__ import annotations

import json
from array import array
from typing import Any, Literal

from bridge.audio.format import AudioFormat
from bridge.carriers.base import (
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

SUBPROTOCOL_JAMBONZ = "audio.jambonz.org"
SUBPROTOCOL_DRACHTIO = "audio.drachtio.org"  # plain mod_audio_fork's default
SUBPROTOCOLS = (SUBPROTOCOL_JAMBONZ, SUBPROTOCOL_DRACHTIO)
RATES = (8000, 16000, 24000, 32000, 48000, 64000)  # what mod_audio_fork can stream
DTMF_TICKS_PER_MS = 8  # FreeSWITCH reports DTMF durations on an 8 kHz clock
_MARKER = 0xFFFF  # the sample value mod_audio_fork uses internally to tag a mark's position
_FORMAT_KEYS = frozenset({"sampleRate", "mixType"})


def _rate(value: object, default: int) -> int:
    if value is None:
        return default
    # jambonz sends a number; a bare uuid_audio_fork start takes "8k"/"16k" and may echo it.
    if isinstance(value, str) and value.strip().lower().endswith("k"):
        rate = whole_number(value.strip()[:-1], "sampleRate") * 1000
    else:
        rate = whole_number(value, "sampleRate")
    if rate not in RATES:
        raise CarrierProtocolError(f"unsupported sampleRate {rate}")
    return rate


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _without_marker_samples(audio: bytes) -> bytes:
    """``audio`` with every 0xFFFF sample nudged to 0x0000 (one LSB, inaudible).

    mod_audio_fork tags a mark's place in its playout buffer with a 0xFFFF sample and, while
    marks are pending, takes any such sample for a mark: a -1 in real audio would report a mark
    early. 0xFFFF reads the same in either byte order, so a native-order view is safe.
    """
    if len(audio) % 2 or b"\xff\xff" not in audio:
        return audio
    samples = array("H", audio)
    if _MARKER not in samples:
        return audio  # the 0xFF bytes straddled two samples
    return array("H", (0 if s == _MARKER else s for s in samples)).tobytes()


class JambonzCodec:
    name = "jambonz"
    playout_acks: Literal["mark", "none"] = "mark"

    def __init__(self, default_sample_rate: int = 8000) -> None:
        # Used only when the metadata lacks sampleRate (a hand-rolled uuid_audio_fork start).
        self.default_sample_rate = default_sample_rate
        self.media_format: AudioFormat | None = None

    def receive(self, frame: Frame) -> list[CallEvent]:
        if isinstance(frame, bytes):
            if self.media_format is None:
                raise CarrierProtocolError("audio before the metadata frame")
            if len(frame) % 2:
                raise CarrierProtocolError(f"{len(frame)}-byte audio frame is not whole samples")
            return [MediaReceived(frame)]
        message = json_object(frame)
        if self.media_format is None:
            return [self._started(message)]
        kind = message.get("type")
        if kind == "mark":
            data = message.get("data")
            name = data.get("name") if isinstance(data, dict) else None
            if not isinstance(name, str):
                raise CarrierProtocolError("mark event without a name")
            # "playout" and "cleared" both settle the mark: played, or dropped by killAudio.
            return [MarkPlayed(name)]
        if message.get("event") == "dtmf":
            return [self._dtmf(message)]
        if kind == "playDone":
            return [Ignored("playDone")]
        return [Ignored(str(kind or message.get("event") or "unknown text frame"))]

    def _started(self, meta: dict[str, Any]) -> CallStarted:
        mix = meta.get("mixType", "mono")
        if mix == "stereo":
            raise CarrierProtocolError("mixType stereo sends two channels; use mono")
        rate = _rate(meta.get("sampleRate"), self.default_sample_rate)
        self.media_format = AudioFormat("pcm16", rate)
        params = {k: _text(v) for k, v in meta.items() if k not in _FORMAT_KEYS}
        return CallStarted(
            call_id=params.get("callSid") or params.get("uuid") or params.get("callId", ""),
            media=self.media_format,
            from_number=params.get("from", ""),
            to_number=params.get("to", ""),
            parameters=params,
        )

    @staticmethod
    def _dtmf(message: dict[str, Any]) -> DtmfReceived:
        digit = dtmf_key(message.get("dtmf"))
        duration = message.get("duration")
        ms = None if duration in (None, "") else whole_number(duration, "dtmf duration")
        return DtmfReceived(digit, None if ms is None else ms // DTMF_TICKS_PER_MS)

    def media(self, audio: bytes) -> list[Frame]:
        if not audio:
            return []
        return [_without_marker_samples(bytes(audio))]

    def mark(self, name: str) -> list[Frame]:
        return [json.dumps({"type": "mark", "data": {"name": name}})]

    def clear(self) -> list[Frame]:
        return [json.dumps({"type": "killAudio"})]

    def hangup(self) -> list[Frame]:
        return [json.dumps({"type": "disconnect"})]


class JambonzCarrierSide:
    """What jambonz (mod_audio_fork) sends and does, for the simulated caller and tests."""

    def __init__(
        self,
        call_sid: str = "b6a4e2f0-0000-4000-8000-000000000001",
        from_number: str = "15551230001",
        to_number: str = "15551230002",
        sample_rate: int = 8000,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if sample_rate not in RATES:
            raise ValueError(f"mod_audio_fork streams {RATES} Hz, not {sample_rate}")
        self.call_sid = call_sid
        self.from_number = from_number
        self.to_number = to_number
        self.media_format = AudioFormat("pcm16", sample_rate)
        self.metadata = metadata or {}

    def start(self) -> str:
        """The opening metadata frame: call attributes, format, then the verb's metadata."""
        info = {
            "sampleRate": self.media_format.sample_rate,
            "mixType": "mono",
            "callSid": self.call_sid,
            "direction": "inbound",
            "from": self.from_number,
            "to": self.to_number,
            "callId": f"{self.call_sid}@sip.example.com",
            "sipStatus": 200,
            "sipReason": "OK",
            "callStatus": "in-progress",
            "callerId": self.from_number,
            "accountSid": "9351f46a-678c-43f5-b8a6-d4eb58d131af",
            "applicationSid": "0dddaabf-0a30-43e3-84e8-426873b1a78b",
        }
        return json.dumps(info | self.metadata)

    def media(self, audio: bytes) -> bytes:
        return bytes(audio)

    def dtmf(self, digit: str, duration_ms: int = 200) -> str:
        # FreeSWITCH passes header values on as strings, in 8 kHz ticks.
        duration = str(duration_ms * DTMF_TICKS_PER_MS)
        return json.dumps({"event": "dtmf", "dtmf": digit, "duration": duration})

    def mark(self, name: str, *, cleared: bool = False) -> str:
        """The echo of a mark: played out, or dropped by a ``killAudio``."""
        event = "cleared" if cleared else "playout"
        return json.dumps({"type": "mark", "data": {"name": name, "event": event}})

    def stop(self) -> list[Frame]:
        return []  # jambonz sends no frame: it closes the WebSocket

    def parse(self, frame: Frame) -> tuple[str, Any]:
        """An outbound bridge frame as (``media``, audio) / (``mark``, name) / (``clear``, None)
        / (``hangup``, None)."""
        if isinstance(frame, bytes):
            if len(frame) % 2:
                raise CarrierProtocolError(f"{len(frame)} bytes of audio is not whole samples")
            return "media", frame
        message = json_object(frame)
        kind = message.get("type")
        if kind == "mark":
            data = message.get("data")
            name = data.get("name") if isinstance(data, dict) else None
            if not isinstance(name, str) or not name:
                raise CarrierProtocolError("mod_audio_fork drops a mark without a string name")
            return "mark", name
        if kind == "killAudio":
            return "clear", None
        if kind == "disconnect":
            return "hangup", None
        if kind == "playAudio":
            raise CarrierProtocolError("playAudio is ignored while bidirectional streaming is on")
        raise CarrierProtocolError(f"the simulated jambonz does not handle {kind!r}")
