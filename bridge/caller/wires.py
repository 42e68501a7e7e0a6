"""How the simulated caller speaks each carrier's protocol, from the carrier's side.

A wire turns the caller's actions (audio, digits, mark echoes) into the frames that carrier
sends, and the bridge's frames into (kind, value) pairs: ``("media", wire audio)``,
``("mark", name)``, ``("clear", None)``, ``("hangup", None)``. Every carrier module provides a
``CarrierSide`` with ``media``, ``dtmf`` and ``parse``; a wire adds what differs: how the
connection opens and closes and how the carrier answers marks and clears.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.audio.format import AudioFormat
from bridge.carriers.audiosocket import AudioSocketCarrierSide
from bridge.carriers.base import Frame
from bridge.carriers.exotel import ExotelCarrierSide
from bridge.carriers.jambonz import SUBPROTOCOL_JAMBONZ, JambonzCarrierSide
from bridge.carriers.plivo import PlivoCarrierSide
from bridge.carriers.telnyx import TelnyxCarrierSide
from bridge.carriers.twilio import MULAW_8K, TwilioCarrierSide
from bridge.carriers.vonage import VonageCarrierSide
from bridge.sip.rtp import PAYLOAD_TYPE_OF, MediaParams, RtpPhone
from bridge.sip.sdp import DTMF_PAYLOAD_TYPE

Outbound = tuple[str, Any]


class CallerWire(Protocol):
    media: AudioFormat
    transport: str  # "websocket" or "tcp"
    subprotocols: tuple[str, ...]
    headers: dict[str, str]

    def opening(self) -> list[Frame]: ...
    def audio(self, wire_audio: bytes) -> list[Frame]: ...
    def dtmf(self, digit: str) -> list[Frame]: ...
    def closing(self) -> list[Frame]: ...
    def inbound(self, frame: Frame) -> list[Outbound]: ...
    def mark_played(self, name: str) -> list[Frame]: ...
    def cleared(self, pending_marks: list[str]) -> list[Frame]: ...


@dataclass
class SideWire:
    side: Any  # a carrier module's CarrierSide
    media: AudioFormat
    open_frames: Callable[[], list[Frame]]
    close_frames: Callable[[], list[Frame]]
    echo_mark: Callable[[str], list[Frame]]
    answer_clear: Callable[[list[str]], list[Frame]]  # given the marks that will never play
    transport: str = "websocket"
    subprotocols: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)

    def opening(self) -> list[Frame]:
        return self.open_frames()

    def audio(self, wire_audio: bytes) -> list[Frame]:
        return [self.side.media(wire_audio)]

    def dtmf(self, digit: str) -> list[Frame]:
        return [self.side.dtmf(digit)]

    def closing(self) -> list[Frame]:
        return self.close_frames()

    def inbound(self, frame: Frame) -> list[Outbound]:
        if self.transport == "tcp":  # a TCP chunk may hold several frames, or part of one
            chunks: list[Outbound] = self.side.feed(frame)
            return chunks
        return [self.side.parse(frame)]

    def mark_played(self, name: str) -> list[Frame]:
        return self.echo_mark(name)

    def cleared(self, pending_marks: list[str]) -> list[Frame]:
        return self.answer_clear(pending_marks)


def _none(*_: object) -> list[Frame]:
    return []


def _hex() -> str:
    return uuid.uuid4().hex


def twilio_wire(parameters: dict[str, str] | None = None) -> SideWire:
    # Every simulated call gets ids of its own, so the bridge's log lines can tell calls apart.
    side = TwilioCarrierSide(f"CA{_hex()}", f"MZ{_hex()}", parameters=parameters)
    return SideWire(
        side,
        MULAW_8K,
        lambda: [side.connected(), side.start()],
        lambda: [side.stop()],
        lambda name: [side.mark(name)],
        # Twilio answers a clear by returning the marks that will now never play.
        lambda marks: [side.mark(name) for name in marks],
    )


def telnyx_wire(encoding: str = "PCMU", auth_token: str | None = None) -> SideWire:
    side = TelnyxCarrierSide(
        call_control_id=f"v3:sim-{_hex()}",
        stream_id=str(uuid.uuid4()),
        encoding=encoding,  # type: ignore[arg-type]
        auth_token=auth_token,
    )
    media = AudioFormat("pcmu" if encoding == "PCMU" else "pcma", 8000)
    return SideWire(
        side,
        media,
        lambda: [side.connected(), side.start()],
        lambda: [side.stop()],
        lambda name: [side.mark(name)],
        lambda marks: [side.mark(name) for name in marks],
        headers=side.upgrade_headers() if auth_token else {},
    )


def plivo_wire(content_type: str = "audio/x-mulaw", sample_rate: int = 8000) -> SideWire:
    side = PlivoCarrierSide(
        call_id=str(uuid.uuid4()),
        stream_id=str(uuid.uuid4()),
        content_type=content_type,  # type: ignore[arg-type]
        sample_rate=sample_rate,
    )
    encoding = "pcmu" if content_type == "audio/x-mulaw" else "pcm16"
    return SideWire(
        side,
        AudioFormat(encoding, sample_rate),  # type: ignore[arg-type]
        lambda: [side.start()],
        _none,  # Plivo just closes the socket
        lambda name: [side.played(name)],
        lambda marks: [side.cleared()],  # checkpoints that never played are not echoed
    )


def exotel_wire(sample_rate: int = 8000) -> SideWire:
    side = ExotelCarrierSide(call_sid=_hex(), stream_sid=_hex(), sample_rate=sample_rate)
    return SideWire(
        side,
        AudioFormat("pcm16", sample_rate),
        lambda: [side.connected(), side.start()],
        lambda: [side.stop()],
        lambda name: [side.mark(name)],
        _none,  # Exotel documents no answer to a clear
    )


def vonage_wire(sample_rate: int = 16000) -> SideWire:
    headers = {"uuid": str(uuid.uuid4()), "from": "447700900000", "to": "447700900001"}
    side = VonageCarrierSide(sample_rate=sample_rate, headers=headers)
    return SideWire(
        side,
        side.media_format,
        lambda: [side.connected()],
        side.stop,
        lambda name: [side.mark(name)],
        lambda marks: [side.cleared()],
    )


def jambonz_wire(sample_rate: int = 8000) -> SideWire:
    side = JambonzCarrierSide(call_sid=str(uuid.uuid4()), sample_rate=sample_rate)
    return SideWire(
        side,
        side.media_format,
        lambda: [side.start()],
        side.stop,
        lambda name: [side.mark(name)],
        lambda marks: [side.mark(name, cleared=True) for name in marks],
        subprotocols=(SUBPROTOCOL_JAMBONZ,),
    )


def audiosocket_wire() -> SideWire:
    side = AudioSocketCarrierSide()
    return SideWire(
        side,
        side.media_format,
        lambda: [side.uuid()],
        lambda: [side.hangup()],
        _none,  # no marks and no clears in AudioSocket
        _none,
        transport="tcp",
    )


@dataclass
class RtpWire:
    """A SIP phone's media: RTP datagrams over UDP (signalling is someone else's job)."""

    phone: RtpPhone
    transport: str = "udp"
    subprotocols: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def media(self) -> AudioFormat:
        return self.phone.media_format

    def opening(self) -> list[Frame]:
        return []

    def audio(self, wire_audio: bytes) -> list[Frame]:
        return [self.phone.media(wire_audio)]

    def dtmf(self, digit: str) -> list[Frame]:
        return list(self.phone.dtmf(digit))

    def closing(self) -> list[Frame]:
        return []  # a BYE, which is the SIP peer's business

    def inbound(self, frame: Frame) -> list[Outbound]:
        if isinstance(frame, str):
            return []
        return [self.phone.parse(frame)]

    def mark_played(self, name: str) -> list[Frame]:
        return []

    def cleared(self, pending_marks: list[str]) -> list[Frame]:
        return []


def rtp_wire(encoding: str = "pcmu") -> RtpWire:
    return RtpWire(RtpPhone(MediaParams(PAYLOAD_TYPE_OF[encoding], DTMF_PAYLOAD_TYPE)))


WIRES: dict[str, Callable[[], SideWire]] = {
    "twilio": twilio_wire,
    "telnyx": telnyx_wire,
    "plivo": plivo_wire,
    "exotel": exotel_wire,
    "vonage": vonage_wire,
    "jambonz": jambonz_wire,
    "audiosocket": audiosocket_wire,
}
