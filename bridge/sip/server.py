"""The SIP front door: a user agent on UDP that answers and places calls with G.711 RTP.

aiosipua does the SIP message work (parsing, dialogs, 100 Trying, CANCEL → 200 + 487, BYE →
200, OPTIONS → 200, 200 OK retransmitted until the ACK); the bridge decides what to do with
each call and joins its RTP to a :class:`~bridge.calls.call.Call`, so SIP callers get the same
dialplans and pipeline as every carrier. What aiosipua leaves out is worked around in
:mod:`bridge.sip.compat`.

This module binds the socket and wires aiosipua's callbacks to the parts that do the work:
:mod:`bridge.sip.inbound` (answering, re-INVITE, CANCEL, BYE), :mod:`bridge.sip.outbound`
(dialling, REGISTER) and :mod:`bridge.sip.dialogs` (the calls in progress: serving, BYE, REFER).
"""

from __future__ import annotations

from collections import deque

from aiosipua import Registration, SipRequest, SipUAC, SipUAS

from bridge.config import SipSettings
from bridge.doors.admission import RETRY_AFTER_S, Refused
from bridge.logging import get_logger
from bridge.runtime import Runtime
from bridge.sip import compat
from bridge.sip.compat import Retransmitter, Screen, UdpTransport
from bridge.sip.dialogs import Dialogs
from bridge.sip.inbound import Inbound
from bridge.sip.leg import Leg, LegSummary
from bridge.sip.outbound import USER_AGENT, Outbound, SipError

log = get_logger("bridge.sip")


class SipServer:
    def __init__(self, runtime: Runtime, settings: SipSettings) -> None:
        """``runtime``: admission, engines and the call flow for the calls it serves."""
        self.runtime = runtime
        self.settings = settings
        self.host = settings.host
        self.public_host = settings.public_host
        self._transport = UdpTransport(local_addr=(self.host, settings.port))
        self.uac = SipUAC(self._transport)
        self.uas = SipUAS(self._transport, uac=self.uac, user_agent=USER_AGENT)
        self.retransmitter = Retransmitter(self._transport.send)
        self.dialogs = Dialogs(runtime, settings, self.host, self.uac, self.retransmitter)
        self.inbound = Inbound(self.dialogs, runtime, settings, self.public_host)
        self.outbound = Outbound(
            self.dialogs,
            settings,
            self.public_host,
            self._transport,
            self.uac,
            self.retransmitter,
        )
        self.port = 0

    @property
    def legs(self) -> dict[str, Leg]:
        """The calls in progress, by Call-ID."""
        return self.dialogs.legs

    @property
    def finished(self) -> deque[LegSummary]:
        """The last few hundred calls, once over."""
        return self.dialogs.finished

    @property
    def registration(self) -> Registration | None:
        return self.outbound.registration

    async def start(self) -> None:
        compat.quiet_logs()
        uas = self.uas
        uas.on_invite = self.inbound.on_invite
        uas.on_reinvite = self.inbound.on_reinvite
        uas.on_bye = self.inbound.on_bye
        uas.on_cancel = self.inbound.on_cancel
        uas.on_ack_timeout = self.inbound.on_ack_timeout
        uas.on_transfer_progress = self.dialogs.transfer_progress
        uas.on_options = self._options
        await uas.start()
        self.port = self._transport.advertise(self.public_host)
        Screen(
            self._transport,
            self.uac,
            self.retransmitter,
            self.inbound.answering,
            self.uas._send_error,
        ).install()
        log.info("SIP listening", host=self.host, port=self.port)
        if self.settings.register:
            self.outbound.register()

    def _options(self, request: SipRequest, addr: tuple[str, int]) -> None:
        """200 only while the bridge takes calls: an edge's OPTIONS probe (Kamailio's
        dispatcher) then sends no calls to a bridge that is loading, full or draining."""
        state = self.runtime.admission.state
        if state == "ready":
            compat.answer_options(self.uas, request, addr)
            return
        retry = str(RETRY_AFTER_S[state])
        self.uas._send_error(
            request, 503, "Service Unavailable", extra_headers={"Retry-After": retry}
        )

    async def stop(self) -> None:
        await self.dialogs.close()
        self.outbound.unregister()
        self.retransmitter.close()
        await self.uas.stop()

    async def dial(self, target: str) -> str:
        """Call ``target`` (a number, sent to the trunk, or a SIP URI) and serve it like any
        other call. Returns the Call-ID once answered; raises
        :class:`~bridge.sip.outbound.SipError` otherwise (503 when the bridge cannot take
        another call: outbound calls are admitted like inbound ones)."""
        ticket = self.runtime.admission.admit("sip")
        if isinstance(ticket, Refused):
            raise SipError(ticket.message, 503)
        try:
            return await self.outbound.dial(target, ticket)
        except BaseException:
            ticket.release()  # never answered: the place is free again
            raise
