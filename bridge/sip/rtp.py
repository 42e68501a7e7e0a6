"""RTP media of a SIP call as a carrier codec (sans-I/O): datagrams in, call events out.

A SIP call's media is a stream of RTP datagrams: G.711 audio (PCMU, payload type 0, or PCMA,
8) and RFC 4733 telephone events for keys. The packet format itself is aiortp's
:class:`~aiortp.packet.RtpPacket`; the G.711 conversion is ours, because aiortp's PCMA decoder
inverts the sign of every sample.

What the peer sends is accepted in any packet time (sipp's captures use 30 ms), late and
duplicate packets are dropped by sequence number, and a new SSRC (a re-INVITE, a PBX
re-anchoring media) simply starts a new sequence. Outbound audio is 20 ms per packet; there are
no marks and nothing to clear, since the peer plays each packet as it arrives.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiortp.packet import RtpPacket, is_rtcp

from bridge.audio import Encoding
from bridge.audio.format import AudioFormat
from bridge.audio.g711 import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16
from bridge.carriers.base import (
    CallEvent,
    CarrierProtocolError,
    DtmfReceived,
    Frame,
    Ignored,
    MediaReceived,
)

PCMU = 0
PCMA = 8
ENCODING_OF: dict[int, Encoding] = {PCMU: "pcmu", PCMA: "pcma"}
PAYLOAD_TYPE_OF: dict[str, int] = {"pcmu": PCMU, "pcma": PCMA}
CLOCK_RATE = 8000
SAMPLES_PER_MS = CLOCK_RATE // 1000
EVENT_DIGITS = "0123456789*#ABCD"  # RFC 4733 events 0-15
EVENT = struct.Struct("!BBH")  # event, E bit + volume, duration (timestamp units)
EVENT_END = 0x80
EVENT_VOLUME = 10  # -10 dBm0, what phones send
EVENT_INTERVAL_MS = 50  # a key held down is re-announced this often
END_REPEATS = 3  # the final packet goes three times (RFC 4733 §2.5.1.4)
SEQUENCE_WINDOW = 3000  # a sequence number this far behind is late, not a wrap


def decode(payload: bytes, payload_type: int) -> bytes:
    """G.711 to 16-bit PCM."""
    return ulaw_to_pcm16(payload) if payload_type == PCMU else alaw_to_pcm16(payload)


def encode(pcm: bytes, payload_type: int) -> bytes:
    return pcm16_to_ulaw(pcm) if payload_type == PCMU else pcm16_to_alaw(pcm)


@dataclass(frozen=True)
class MediaParams:
    """What offer/answer settled: the audio payload type and the telephone-event one."""

    payload_type: int
    dtmf_payload_type: int | None = None

    @property
    def encoding(self) -> Encoding:
        return ENCODING_OF[self.payload_type]


class RtpSender:
    """Numbers outbound packets: one SSRC, consecutive sequence numbers, a sample clock."""

    def __init__(self, params: MediaParams, rng: random.Random | None = None) -> None:
        rng = rng or random.Random()
        self.params = params
        self.ssrc = rng.getrandbits(32)
        self._sequence = rng.getrandbits(16)
        self._timestamp = rng.getrandbits(32)
        self._talkspurt = True  # the first packet of a talkspurt carries the marker bit

    def _packet(self, payload_type: int, payload: bytes, timestamp: int, marker: bool) -> bytes:
        packet = RtpPacket(
            payload_type=payload_type,
            marker=int(marker),
            sequence_number=self._sequence,
            timestamp=timestamp,
            ssrc=self.ssrc,
            payload=payload,
        )
        self._sequence = (self._sequence + 1) & 0xFFFF
        return packet.serialize()

    def audio(self, payload: bytes) -> bytes:
        """One packet of G.711 ``payload`` in the negotiated law."""
        data = self._packet(self.params.payload_type, payload, self._timestamp, self._talkspurt)
        self._talkspurt = False
        self._timestamp = (self._timestamp + len(payload)) & 0xFFFFFFFF
        return data

    def pause(self) -> None:
        """Audio stopped; the next packet starts a new talkspurt."""
        self._talkspurt = True

    def dtmf(self, digit: str, duration_ms: int = 160) -> list[tuple[int, Callable[[], bytes]]]:
        """RFC 4733 packets for one key press as ``(send at ms from now, build the packet)``.

        Every packet of the event shares its start timestamp; the duration grows every 50 ms and
        the end packet is sent three times. Each is numbered when built, just before it is sent,
        so audio going out meanwhile cannot overtake it. The audio clock moves past the event.
        """
        if digit not in EVENT_DIGITS or len(digit) != 1:
            raise ValueError(f"{digit!r} is not a DTMF key")
        if self.params.dtmf_payload_type is None:
            raise ValueError("the peer did not negotiate telephone-event")
        pt = self.params.dtmf_payload_type
        event = EVENT_DIGITS.index(digit)
        start = self._timestamp
        total = duration_ms * SAMPLES_PER_MS

        def packet(payload: bytes, marker: bool) -> Callable[[], bytes]:
            return lambda: self._packet(pt, payload, start, marker)

        plan: list[tuple[int, Callable[[], bytes]]] = []
        for offset in range(0, duration_ms, EVENT_INTERVAL_MS):
            held = min((offset + EVENT_INTERVAL_MS) * SAMPLES_PER_MS, total)
            plan.append((offset, packet(EVENT.pack(event, EVENT_VOLUME, held), offset == 0)))
        final = packet(EVENT.pack(event, EVENT_END | EVENT_VOLUME, total), False)
        plan += [(duration_ms, final)] * END_REPEATS
        self._timestamp = (start + total) & 0xFFFFFFFF
        self._talkspurt = True
        return plan


class RtpReceiver:
    """Turns the peer's datagrams into audio and keys, dropping what is late or repeated."""

    def __init__(self, params: MediaParams) -> None:
        self.params = params
        self._ssrc: int | None = None
        self._highest: int | None = None  # highest sequence number seen from this SSRC
        self._events: set[int] = set()  # timestamps of key presses already reported
        self.packets = 0

    def receive(self, datagram: bytes) -> list[CallEvent]:
        """Events in ``datagram``; raises CarrierProtocolError when it is not RTP."""
        if is_rtcp(datagram):
            return [Ignored("rtcp")]
        try:
            packet = RtpPacket.parse(datagram)
        except ValueError as exc:
            raise CarrierProtocolError(f"not an RTP packet: {exc}") from None
        if not self._in_order(packet):
            return [Ignored("late or duplicate packet")]
        self.packets += 1
        pt = packet.payload_type
        if pt == self.params.dtmf_payload_type:
            return self._event(packet)
        if pt not in ENCODING_OF:
            return [Ignored(f"payload type {pt}")]
        if not packet.payload:
            return [Ignored("empty packet")]
        audio = packet.payload
        if pt != self.params.payload_type:  # the peer switched law before we renegotiated
            audio = encode(decode(audio, pt), self.params.payload_type)
        return [MediaReceived(audio)]

    def _in_order(self, packet: RtpPacket) -> bool:
        if packet.ssrc != self._ssrc:
            self._ssrc, self._highest, self._events = packet.ssrc, None, set()
        seq = packet.sequence_number
        if self._highest is not None:
            behind = (self._highest - seq) & 0xFFFF
            if behind < SEQUENCE_WINDOW:  # zero included: a duplicate
                return False
        self._highest = seq
        return True

    def _event(self, packet: RtpPacket) -> list[CallEvent]:
        if len(packet.payload) < EVENT.size:
            return [Ignored("short telephone-event")]
        event, flags, duration = EVENT.unpack_from(packet.payload)
        if event >= len(EVENT_DIGITS):
            return [Ignored(f"telephone-event {event}")]
        # Every packet of one press shares its timestamp: report the press once.
        if packet.timestamp in self._events:
            return [Ignored("key still down")]
        self._events.add(packet.timestamp)
        if len(self._events) > 64:
            self._events = {packet.timestamp}
        # Reported at the first packet, for speed; the length is known only from an end packet.
        ended = bool(flags & EVENT_END)
        return [DtmfReceived(EVENT_DIGITS[event], duration // SAMPLES_PER_MS if ended else None)]


class RtpCodec:
    """The bridge side of a SIP call's media, for :class:`~bridge.calls.call.Call`."""

    name = "sip"
    # No acknowledgements: the peer plays packets as they come, so playout is our pacing.
    playout_acks: Literal["mark", "none"] = "none"
    # Send each 20 ms frame when it is due, not ahead: RTP has no queue to clear.
    lead_ms = 20
    burst_ms = 0

    def __init__(self, params: MediaParams, rng: random.Random | None = None) -> None:
        self.wire_encoding: Encoding = params.encoding  # the call's format, fixed at answer
        self.sender = RtpSender(params, rng)
        self.receiver = RtpReceiver(params)
        self.sending = True  # False while the peer holds the call
        self._silence = AudioFormat(self.wire_encoding, CLOCK_RATE).silence

    def renegotiate(self, params: MediaParams) -> None:
        """A re-INVITE changed the codec or the telephone-event type."""
        self.sender.params = params
        self.receiver.params = MediaParams(
            PAYLOAD_TYPE_OF[self.wire_encoding], params.dtmf_payload_type
        )

    def receive(self, frame: Frame) -> list[CallEvent]:
        if isinstance(frame, str):
            raise CarrierProtocolError("RTP is binary")
        if not frame:  # the transport's stand-in for 20 ms the peer did not send
            return [MediaReceived(self._silence)]
        return self.receiver.receive(frame)

    def media(self, audio: bytes) -> list[Frame]:
        if not self.sending:
            return []
        wire_pt = PAYLOAD_TYPE_OF[self.wire_encoding]
        if self.sender.params.payload_type != wire_pt:
            audio = encode(decode(audio, wire_pt), self.sender.params.payload_type)
        return [self.sender.audio(audio)]

    def mark(self, name: str) -> list[Frame]:
        return []

    def clear(self) -> list[Frame]:
        self.sender.pause()
        return []

    def hangup(self) -> list[Frame]:
        return []  # a BYE, sent by the SIP dialog


class RtpPhone:
    """The far end of the media, as a phone would speak it (for the simulated caller)."""

    def __init__(self, params: MediaParams, rng: random.Random | None = None) -> None:
        self.media_format = AudioFormat(params.encoding, CLOCK_RATE)
        self.sender = RtpSender(params, rng)
        self.receiver = RtpReceiver(params)

    def media(self, audio: bytes) -> bytes:
        return self.sender.audio(audio)

    def dtmf(self, digit: str) -> list[bytes]:
        """Every packet of the key press at once: the receiver dedupes by timestamp."""
        return [build() for _, build in self.sender.dtmf(digit)]

    def parse(self, datagram: bytes) -> tuple[str, object]:
        events = self.receiver.receive(datagram)
        for event in events:
            if isinstance(event, MediaReceived):
                return ("media", event.audio)
        return ("ignored", None)
