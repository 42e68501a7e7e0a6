"""How the simulated caller speaks each carrier's protocol, from the carrier's side.

A wire turns the caller's actions (audio, digits, mark echoes) into the frames that carrier
sends, and the bridge's frames into (kind, value) pairs: ``("media", wire audio)``,
``("mark", name)``, ``("clear", None)``, ``("hangup", None)``.
"""

from __future__ import annotations

from typing import Any, Protocol

from bridge.carriers.audiosocket import AudioSocketCarrierSide
from bridge.carriers.base import Frame, MediaFormat
from bridge.carriers.exotel import ExotelCarrierSide
from bridge.carriers.jambonz import SUBPROTOCOL_JAMBONZ, JambonzCarrierSide
from bridge.carriers.plivo import PlivoCarrierSide
from bridge.carriers.telnyx import TelnyxCarrierSide
from bridge.carriers.twilio import MULAW_8K, TwilioCarrierSide
from bridge.carriers.vonage import VonageCarrierSide

Outbound = tuple[str, Any]


class CallerWire(Protocol):
    media: MediaFormat
    transport: str  # "websocket" or "tcp"
    subprotocols: tuple[str, ...]

    def opening(self) -> list[Frame]: ...
    def audio(self, wire_audio: bytes) -> list[Frame]: ...
    def dtmf(self, digit: str) -> list[Frame]: ...
    def closing(self) -> list[Frame]: ...
    def inbound(self, frame: Frame) -> list[Outbound]: ...
    def mark_played(self, name: str) -> list[Frame]: ...
    def cleared(self, pending_marks: list[str]) -> list[Frame]: ...


class TwilioWire:
    media = MULAW_8K
    transport = "websocket"
    subprotocols: tuple[str, ...] = ()

    def __init__(self, parameters: dict[str, str] | None = None) -> None:
        self.side = TwilioCarrierSide(parameters=parameters)

    def opening(self) -> list[Frame]:
        return [self.side.connected(), self.side.start()]

    def audio(self, wire_audio: bytes) -> list[Frame]:
        return [self.side.media(wire_audio)]

    def dtmf(self, digit: str) -> list[Frame]:
        return [self.side.dtmf(digit)]

    def closing(self) -> list[Frame]:
        return [self.side.stop()]

    def inbound(self, frame: Frame) -> list[Outbound]:
        return [self.side.parse(frame)]

    def mark_played(self, name: str) -> list[Frame]:
        return [self.side.mark(name)]

    def cleared(self, pending_marks: list[str]) -> list[Frame]:
        # Twilio answers a clear by returning the marks that will now never play.
        return [self.side.mark(name) for name in pending_marks]


class TelnyxWire:
    transport = "websocket"
    subprotocols: tuple[str, ...] = ()

    def __init__(self, encoding: str = "PCMU", auth_token: str | None = None) -> None:
        self.side = TelnyxCarrierSide(encoding=encoding, auth_token=auth_token)  # type: ignore[arg-type]
        self.media = MediaFormat("pcmu" if encoding == "PCMU" else "pcma", 8000)
        self.headers = self.side.upgrade_headers() if auth_token else {}

    def opening(self) -> list[Frame]:
        return [self.side.connected(), self.side.start()]

    def audio(self, wire_audio: bytes) -> list[Frame]:
        return [self.side.media(wire_audio)]

    def dtmf(self, digit: str) -> list[Frame]:
        return [self.side.dtmf(digit)]

    def closing(self) -> list[Frame]:
        return [self.side.stop()]

    def inbound(self, frame: Frame) -> list[Outbound]:
        return [self.side.parse(frame)]

    def mark_played(self, name: str) -> list[Frame]:
        return [self.side.mark(name)]

    def cleared(self, pending_marks: list[str]) -> list[Frame]:
        return [self.side.mark(name) for name in pending_marks]  # like Twilio


class PlivoWire:
    transport = "websocket"
    subprotocols: tuple[str, ...] = ()

    def __init__(self, content_type: str = "audio/x-mulaw", sample_rate: int = 8000) -> None:
        self.side = PlivoCarrierSide(content_type=content_type, sample_rate=sample_rate)  # type: ignore[arg-type]
        encoding = "pcmu" if content_type == "audio/x-mulaw" else "pcm16"
        self.media = MediaFormat(encoding, sample_rate)  # type: ignore[arg-type]

    def opening(self) -> list[Frame]:
        return [self.side.start()]

    def audio(self, wire_audio: bytes) -> list[Frame]:
        return [self.side.media(wire_audio)]

    def dtmf(self, digit: str) -> list[Frame]:
        return [self.side.dtmf(digit)]

    def closing(self) -> list[Frame]:
        return []  # Plivo just closes the socket

    def inbound(self, frame: Frame) -> list[Outbound]:
        return [self.side.parse(frame)]

    def mark_played(self, name: str) -> list[Frame]:
        return [self.side.played(name)]

    def cleared(self, pending_marks: list[str]) -> list[Frame]:
        return [self.side.cleared()]  # checkpoints that never played are not echoed


class ExotelWire:
    transport = "websocket"
    subprotocols: tuple[str, ...] = ()

    def __init__(self, sample_rate: int = 8000) -> None:
        self.side = ExotelCarrierSide(sample_rate=sample_rate)
        self.media = MediaFormat("pcm16", sample_rate)

    def opening(self) -> list[Frame]:
        return [self.side.connected(), self.side.start()]

    def audio(self, wire_audio: bytes) -> list[Frame]:
        return [self.side.media(wire_audio)]

    def dtmf(self, digit: str) -> list[Frame]:
        return [self.side.dtmf(digit)]

    def closing(self) -> list[Frame]:
        return [self.side.stop()]

    def inbound(self, frame: Frame) -> list[Outbound]:
        return [self.side.parse(frame)]

    def mark_played(self, name: str) -> list[Frame]:
        return [self.side.mark(name)]

    def cleared(self, pending_marks: list[str]) -> list[Frame]:
        return []  # Exotel documents no answer to a clear


class VonageWire:
    transport = "websocket"
    subprotocols: tuple[str, ...] = ()

    def __init__(self, sample_rate: int = 16000) -> None:
        self.side = VonageCarrierSide(sample_rate=sample_rate)
        self.media = self.side.media_format

    def opening(self) -> list[Frame]:
        return [self.side.connected()]

    def audio(self, wire_audio: bytes) -> list[Frame]:
        return [self.side.media(wire_audio)]

    def dtmf(self, digit: str) -> list[Frame]:
        return [self.side.dtmf(digit)]

    def closing(self) -> list[Frame]:
        return self.side.stop()

    def inbound(self, frame: Frame) -> list[Outbound]:
        return [self.side.parse(frame)]

    def mark_played(self, name: str) -> list[Frame]:
        return [self.side.mark(name)]

    def cleared(self, pending_marks: list[str]) -> list[Frame]:
        return [self.side.cleared()]


class JambonzWire:
    transport = "websocket"
    subprotocols: tuple[str, ...] = (SUBPROTOCOL_JAMBONZ,)

    def __init__(self, sample_rate: int = 8000) -> None:
        self.side = JambonzCarrierSide(sample_rate=sample_rate)
        self.media = self.side.media_format

    def opening(self) -> list[Frame]:
        return [self.side.start()]

    def audio(self, wire_audio: bytes) -> list[Frame]:
        return [self.side.media(wire_audio)]

    def dtmf(self, digit: str) -> list[Frame]:
        return [self.side.dtmf(digit)]

    def closing(self) -> list[Frame]:
        return self.side.stop()

    def inbound(self, frame: Frame) -> list[Outbound]:
        return [self.side.parse(frame)]

    def mark_played(self, name: str) -> list[Frame]:
        return [self.side.mark(name)]

    def cleared(self, pending_marks: list[str]) -> list[Frame]:
        return [self.side.mark(name, cleared=True) for name in pending_marks]


class AudioSocketWire:
    transport = "tcp"
    subprotocols: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.side = AudioSocketCarrierSide()
        self.media = self.side.media_format

    def opening(self) -> list[Frame]:
        return [self.side.uuid()]

    def audio(self, wire_audio: bytes) -> list[Frame]:
        return [self.side.media(wire_audio)]

    def dtmf(self, digit: str) -> list[Frame]:
        return [self.side.dtmf(digit)]

    def closing(self) -> list[Frame]:
        return [self.side.hangup()]

    def inbound(self, frame: Frame) -> list[Outbound]:
        return self.side.feed(frame)  # a TCP chunk may hold several frames, or part of one

    def mark_played(self, name: str) -> list[Frame]:
        return []

    def cleared(self, pending_marks: list[str]) -> list[Frame]:
        return []


WIRES: dict[str, type] = {
    "twilio": TwilioWire,
    "telnyx": TelnyxWire,
    "plivo": PlivoWire,
    "exotel": ExotelWire,
    "vonage": VonageWire,
    "jambonz": JambonzWire,
    "audiosocket": AudioSocketWire,
}
