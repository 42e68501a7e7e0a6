"""How the simulated caller speaks each carrier's protocol, from the carrier's side.

A wire turns the caller's actions (audio, digits, mark echoes) into the frames that carrier
sends, and the bridge's frames into (kind, value) pairs: ``("media", wire audio)``,
``("mark", name)``, ``("clear", None)``, ``("hangup", None)``.
"""

from __future__ import annotations

from typing import Any, Protocol

from bridge.carriers.base import Frame, MediaFormat
from bridge.carriers.twilio import MULAW_8K, TwilioCarrierSide

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


WIRES: dict[str, type] = {"twilio": TwilioWire}
