"""One SIP call's state: its dialog (incoming or outgoing), its media, and what it did."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiosipua import IncomingCall, OutgoingCall, parse_uri

from bridge.sip.media import RtpTransport
from bridge.sip.rtp import RtpCodec

Address = tuple[str, int]


@dataclass(frozen=True)
class LegSummary:
    """What a finished call did, kept for inspection (the last few hundred calls)."""

    call_id: str
    direction: str  # "inbound" or "outbound"
    answered: bool
    packets_in: int
    ended_by: str  # "caller", "bridge", "cancel", "media timeout", "no ack", ...
    digits: str = ""  # keys the caller pressed
    utterances: int = 0  # times the caller started speaking


@dataclass
class Leg:
    """One SIP call in progress: its dialog, media and the bridge call serving it."""

    call_id: str
    peer: Address  # where in-dialog requests go
    rtp: RtpTransport
    codec: RtpCodec
    incoming: IncomingCall | None = None
    outgoing: OutgoingCall | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    hung_up: bool = False  # a BYE went one way or the other
    answered: bool = False
    ended_by: str = ""
    digits: str = ""
    utterances: int = 0
    sdp_version: int = 1
    transfers: dict[str, asyncio.Future[int]] = field(default_factory=dict)

    @property
    def dialog(self) -> Any:
        source = self.incoming if self.incoming is not None else self.outgoing
        assert source is not None
        return source.dialog

    def hold(self, held: bool) -> None:
        """The peer holds the call (or resumes it): send nothing, and expect nothing."""
        self.codec.sending = not held
        self.rtp.on_hold = held

    def summary(self) -> LegSummary:
        direction = "inbound" if self.incoming is not None else "outbound"
        return LegSummary(
            self.call_id,
            direction,
            self.answered,
            self.codec.receiver.packets,
            self.ended_by,
            self.digits,
            self.utterances,
        )


def user_part(uri_text: str) -> str:
    """The user part of a From/To header or URI: the phone number, usually."""
    start, end = uri_text.find("<"), uri_text.find(">")
    uri = uri_text[start + 1 : end] if 0 <= start < end else uri_text.split(";")[0]
    try:
        parsed = parse_uri(uri.strip())
    except Exception:
        return ""
    return parsed.user or ""
