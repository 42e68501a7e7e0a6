"""Calls from the bridge: dialling a number through the trunk (or a SIP URI directly), and
registering with the trunk so that it sends us calls."""

from __future__ import annotations

from aiosipua import Registration, SipDigestAuth, SipUAC, parse_uri

from bridge.audio.format import AudioFormat
from bridge.carriers.base import CallStarted
from bridge.config import SipSettings
from bridge.doors.admission import Ticket
from bridge.logging import get_logger
from bridge.sip import compat, sdp
from bridge.sip.compat import Retransmitter, UdpTransport
from bridge.sip.dialogs import Dialogs
from bridge.sip.leg import Leg, user_part
from bridge.sip.rtp import CLOCK_RATE, RtpCodec

log = get_logger("bridge.sip")
USER_AGENT = "voice-bridge"
ANSWER_TIMEOUT_S = 60.0  # an outbound call nobody picks up


class SipError(Exception):
    """An outbound call that could not be placed, with the SIP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Outbound:
    def __init__(
        self,
        dialogs: Dialogs,
        settings: SipSettings,
        public_host: str,
        transport: UdpTransport,
        uac: SipUAC,
        retransmitter: Retransmitter,
    ) -> None:
        self.dialogs = dialogs
        self.settings = settings
        self.public_host = public_host  # what our SDP offers name
        self._transport = transport
        self.uac = uac
        self.retransmitter = retransmitter
        self.registration: Registration | None = None

    def _auth(self) -> SipDigestAuth | None:
        settings = self.settings
        if not settings.trunk_username:
            return None
        return SipDigestAuth(settings.trunk_username, settings.trunk_password)

    # --- REGISTER ------------------------------------------------------------------------------

    def register(self) -> None:
        """Bind our address at the trunk's registrar; aiosipua refreshes it before expiry."""
        settings = self.settings
        if not settings.trunk_uri or not settings.trunk_username:
            log.warning("BRIDGE_SIP_REGISTER needs BRIDGE_SIP_TRUNK_URI and a username")
            return
        trunk = parse_uri(settings.trunk_uri)
        registration = Registration(
            self.uac,
            f"sip:{settings.trunk_username}@{trunk.host}",
            (trunk.host, trunk.port or 5060),
            auth=self._auth(),
            user_agent=USER_AGENT,
        )
        registration.on_registered = lambda r: log.info(
            "registered", registrar=settings.trunk_uri, expires=r.granted_expires
        )
        registration.on_failed = lambda r, status, reason: log.error(
            "registration failed", registrar=settings.trunk_uri, status=status, reason=reason
        )
        self.registration = registration
        self.retransmitter.track(registration.register(), registration.registrar)

    def unregister(self) -> None:
        if self.registration is not None:
            self.registration.unregister()

    # --- INVITE --------------------------------------------------------------------------------

    async def dial(self, target: str, ticket: Ticket) -> str:
        """Call ``target`` (a number, sent to the trunk, or a SIP URI) and serve it like any
        other call. Returns the Call-ID once answered; raises SipError otherwise."""
        settings, dialogs = self.settings, self.dialogs
        uri = target if target.startswith("sip:") else self._trunk_uri(target)
        parsed = parse_uri(uri)
        peer = (parsed.host, parsed.port or 5060)
        trunk = parse_uri(settings.trunk_uri) if settings.trunk_uri else None
        if trunk is not None and not target.startswith("sip:"):
            peer = (trunk.host, trunk.port or 5060)
        rtp = await dialogs.bind_rtp()
        auth = self._auth()
        outgoing = self.uac.send_invite(
            self._from_uri(),
            uri,
            peer,
            sdp.offer(self.public_host, rtp.port),
            user_agent=USER_AGENT,
            auth=auth,
        )
        self.retransmitter.track(outgoing.invite, peer)
        try:
            await outgoing.wait_answered(timeout=ANSWER_TIMEOUT_S)
        except (TimeoutError, RuntimeError) as exc:
            await rtp.close()
            raise SipError(
                f"call to {target} failed: {exc}", compat.rejected_status(outgoing)
            ) from None
        if outgoing.sdp_answer is None:
            await rtp.close()
            raise SipError(f"{target} answered without SDP")
        negotiated = sdp.accept(outgoing.sdp_answer)
        rtp.redirect(negotiated.remote)
        leg = Leg(outgoing.call_id, peer, rtp, RtpCodec(negotiated.params), outgoing=outgoing)
        leg.answered = True
        dialogs.legs[leg.call_id] = leg
        started = CallStarted(
            call_id=outgoing.call_id,
            media=AudioFormat(negotiated.params.encoding, CLOCK_RATE),
            from_number=user_part(self._from_uri()),
            to_number=user_part(uri),
            parameters={"direction": "outbound"},
        )

        async def serve() -> None:
            try:
                await dialogs.serve(leg, started, ticket)
            finally:
                await dialogs.finish(leg)

        dialogs.spawn(serve())
        return outgoing.call_id

    def _trunk_uri(self, number: str) -> str:
        if not self.settings.trunk_uri:
            raise SipError("dialling a number needs BRIDGE_SIP_TRUNK_URI")
        trunk = parse_uri(self.settings.trunk_uri)
        port = f":{trunk.port}" if trunk.port else ""
        return f"sip:{number}@{trunk.host}{port}"

    def _from_uri(self) -> str:
        user = self.settings.trunk_username or "bridge"
        host, port = self._transport.local_addr  # once started: the public host, the bound port
        return f"sip:{user}@{host}:{port}"
