"""Calls to the bridge: answering an INVITE, re-INVITEs (hold, resume, a new codec), and the
caller's CANCEL, BYE or missing ACK.

The RTP socket is bound before the call is answered, since the SDP answer names its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress

from aiosipua import IncomingCall, SdpNegotiationError, SipRequest

from bridge.audio.format import AudioFormat
from bridge.carriers.base import CallStarted
from bridge.config import SipSettings
from bridge.doors.admission import Refused, Ticket
from bridge.logging import bind_call, get_logger
from bridge.runtime import Runtime
from bridge.sip import compat, sdp
from bridge.sip.dialogs import Dialogs
from bridge.sip.leg import Address, Leg, user_part
from bridge.sip.rtp import CLOCK_RATE, RtpCodec

log = get_logger("bridge.sip")


class Inbound:
    def __init__(
        self, dialogs: Dialogs, runtime: Runtime, settings: SipSettings, public_host: str
    ) -> None:
        self.dialogs = dialogs
        self.runtime = runtime
        self.settings = settings
        self.public_host = public_host  # what our SDP answers name
        self.answering: dict[str, IncomingCall] = {}  # INVITEs being answered, by Call-ID
        # Call-IDs of INVITEs being answered that a CANCEL ended (aiosipua sent 200 + 487):
        # a CANCEL can arrive before the call's leg exists, while its RTP port is bound.
        self.cancelled: set[str] = set()
        self._allowed = [
            ipaddress.ip_network(source, strict=False) for source in settings.allowed_sources
        ]

    def _allowed_source(self, addr: Address) -> bool:
        if not self._allowed:
            return True
        try:
            ip = ipaddress.ip_address(addr[0])
        except ValueError:
            return False
        return any(ip in network for network in self._allowed)

    # --- the INVITE ----------------------------------------------------------------------------

    def _reject(self, incoming: IncomingCall, status: int, reason: str) -> None:
        """A final answer, unless a CANCEL already gave the INVITE its 487."""
        if incoming.call_id not in self.cancelled:
            incoming.reject(status, reason)

    def on_invite(self, incoming: IncomingCall) -> None:
        compat.follow_record_route(incoming)
        self.answering[incoming.call_id] = incoming
        self.dialogs.spawn(self._answer(incoming))

    async def _answer(self, incoming: IncomingCall) -> None:
        try:
            await self._answer_invite(incoming)
        finally:
            self.answering.pop(incoming.call_id, None)
            self.cancelled.discard(incoming.call_id)

    async def _answer_invite(self, incoming: IncomingCall) -> None:
        runtime = self.runtime
        with bind_call(call_id=incoming.call_id, carrier="sip"):
            if not self._allowed_source(incoming.source_addr):
                log.warning("refused a call from a source not allowed", source=incoming.source_addr)
                self._reject(incoming, 403, "Forbidden")
                return
            ticket = runtime.admission.admit("sip")
            if isinstance(ticket, Refused):
                log.info("refused a call", reason=ticket.reason)
                if incoming.call_id not in self.cancelled:
                    compat.refuse_invite(incoming, 503, "Service Unavailable", ticket.retry_after)
                return
            with ticket:
                await self._answer_admitted(incoming, ticket)

    async def _answer_admitted(self, incoming: IncomingCall, ticket: Ticket) -> None:
        settings, dialogs = self.settings, self.dialogs
        if incoming.sdp_offer is None:
            self._reject(incoming, 488, "Not Acceptable Here")  # we need the offer in the INVITE
            return
        try:
            rtp = await dialogs.bind_rtp()
        except OSError as exc:
            log.error("no RTP port for a call", error=str(exc))
            self._reject(incoming, 503, "Service Unavailable")
            return
        try:
            answer, negotiated = sdp.answer(incoming.sdp_offer, self.public_host, rtp.port)
        except SdpNegotiationError as exc:
            log.info("no common codec", error=str(exc))
            await rtp.close()
            self._reject(incoming, 488, "Not Acceptable Here")
            return
        rtp.redirect(negotiated.remote)
        codec = RtpCodec(negotiated.params)
        leg = Leg(incoming.call_id, incoming.source_addr, rtp, codec, incoming=incoming)
        leg.hold(negotiated.held)
        dialogs.legs[leg.call_id] = leg
        if incoming.call_id in self.cancelled:
            leg.cancelled.set()  # cancelled before the leg existed: never ring, never answer
        try:
            if not leg.cancelled.is_set():
                incoming.ringing()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(settings.ring_ms / 1000):
                        await leg.cancelled.wait()
            if leg.cancelled.is_set():
                log.info("caller cancelled while ringing")
                leg.ended_by = "cancel"
                return
            incoming.accept(answer)
            leg.answered = True
            started = CallStarted(
                call_id=incoming.call_id,
                media=AudioFormat(negotiated.params.encoding, CLOCK_RATE),
                from_number=user_part(incoming.invite.headers.get_first("from") or ""),
                to_number=user_part(incoming.invite.uri),
                parameters=dict(incoming.x_headers),
            )
            await dialogs.serve(leg, started, ticket)
        finally:
            await dialogs.finish(leg)

    # --- in the dialog -------------------------------------------------------------------------

    def on_reinvite(self, incoming: IncomingCall) -> None:
        """Hold, resume, a new address or a new codec: answer on the same RTP port."""
        leg = self.dialogs.legs.get(incoming.call_id)
        offer = incoming.sdp_offer
        if leg is None or offer is None:
            # Nothing of ours, or no offer (we would have to offer in the 200): refuse politely.
            compat.refuse_reinvite(incoming, 488, "Not Acceptable Here")
            return
        try:
            answer, negotiated = sdp.answer(offer, self.public_host, leg.rtp.port)
        except SdpNegotiationError:
            compat.refuse_reinvite(incoming, 488, "Not Acceptable Here")  # the call goes on
            return
        leg.sdp_version += 1
        compat.bump_version(answer, leg.sdp_version)
        leg.codec.renegotiate(negotiated.params)
        leg.rtp.redirect(negotiated.remote)
        leg.hold(negotiated.held)
        log.info(
            "re-INVITE answered",
            call_id=leg.call_id,
            held=negotiated.held,
            codec=negotiated.params.encoding,
        )
        incoming.accept(answer)

    def on_cancel(self, request: SipRequest, addr: Address) -> None:
        call_id = request.call_id or ""
        if call_id in self.answering:
            self.cancelled.add(call_id)
        leg = self.dialogs.legs.get(call_id)
        if leg is not None:
            leg.cancelled.set()

    def on_bye(self, incoming: IncomingCall, request: SipRequest) -> None:
        self.dialogs.gone(incoming.call_id, "caller")

    def on_ack_timeout(self, incoming: IncomingCall) -> None:
        self.dialogs.gone(incoming.call_id, "no ack")
