"""The SIP front door: a user agent on UDP that answers and places calls with G.711 RTP.

aiosipua does the SIP message work (parsing, dialogs, 100 Trying, CANCEL → 200 + 487, BYE →
200, OPTIONS → 200, 200 OK retransmitted until the ACK); this module decides what to do with
each call and joins its RTP to a :class:`~bridge.calls.call.Call`, so SIP callers get the same
dialplans and pipeline as every carrier. What aiosipua leaves out is worked around in
:mod:`bridge.sip.compat`.

The RTP socket is bound before the call is answered, since the SDP answer names its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiosipua import (
    IncomingCall,
    OutgoingCall,
    Registration,
    SdpNegotiationError,
    SipDigestAuth,
    SipRequest,
    SipResponse,
    SipUAC,
    SipUAS,
    parse_uri,
)

from bridge.calls.call import Call
from bridge.calls.routes import run_call
from bridge.carriers.base import CallStarted, MediaFormat
from bridge.config import Settings
from bridge.logging import bind_call, get_logger
from bridge.realtime import events as ev
from bridge.sip import compat, sdp
from bridge.sip.compat import Retransmitter, Screen, UdpTransport
from bridge.sip.control import SipControl
from bridge.sip.media import RtpTransport
from bridge.sip.rtp import CLOCK_RATE, RtpCodec

log = get_logger("bridge.sip")
USER_AGENT = "voice-bridge"
ANSWER_TIMEOUT_S = 60.0  # an outbound call nobody picks up

Address = tuple[str, int]
Answer = asyncio.Future[SipResponse]


class SipError(Exception):
    """An outbound call that could not be placed, with the SIP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


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


def _user(uri_text: str) -> str:
    """The user part of a From/To header or URI: the phone number, usually."""
    start, end = uri_text.find("<"), uri_text.find(">")
    uri = uri_text[start + 1 : end] if 0 <= start < end else uri_text.split(";")[0]
    try:
        parsed = parse_uri(uri.strip())
    except Exception:
        return ""
    return parsed.user or ""


class SipServer:
    def __init__(self, runtime: Any, settings: Settings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.host = settings.sip_host or settings.host
        self.public_host = settings.sip_public_host or self.host
        self._transport = UdpTransport(local_addr=(self.host, settings.sip_port or 0))
        self.uac = SipUAC(self._transport)
        self.uas = SipUAS(self._transport, uac=self.uac, user_agent=USER_AGENT)
        self.retransmitter = Retransmitter(self._transport.send)
        self.legs: dict[str, Leg] = {}
        self._invites: dict[str, IncomingCall] = {}  # INVITEs being answered, by Call-ID
        self.finished: deque[LegSummary] = deque(maxlen=500)
        self.registration: Registration | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._allowed = [
            ipaddress.ip_network(source, strict=False) for source in settings.sip_allowed_sources
        ]
        self.port = 0

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        compat.quiet_logs()
        uas = self.uas
        uas.on_invite = self._on_invite
        uas.on_reinvite = self._on_reinvite
        uas.on_bye = self._on_bye
        uas.on_cancel = self._on_cancel
        uas.on_ack_timeout = self._on_ack_timeout
        uas.on_transfer_progress = self._on_transfer_progress
        await uas.start()
        self.port = self._transport.advertise(self.public_host)
        Screen(self._transport, self.uac, self.retransmitter, self._invites).install()
        log.info("SIP listening", host=self.host, port=self.port)
        if self.settings.sip_register:
            self._register()

    def _register(self) -> None:
        """Bind our address at the trunk's registrar; aiosipua refreshes it before expiry."""
        settings = self.settings
        if not settings.sip_trunk_uri or not settings.sip_trunk_username:
            log.warning("BRIDGE_SIP_REGISTER needs BRIDGE_SIP_TRUNK_URI and a username")
            return
        trunk = parse_uri(settings.sip_trunk_uri)
        registration = Registration(
            self.uac,
            f"sip:{settings.sip_trunk_username}@{trunk.host}",
            (trunk.host, trunk.port or 5060),
            auth=self._auth(),
            user_agent=USER_AGENT,
        )
        registration.on_registered = lambda r: log.info(
            "registered", registrar=settings.sip_trunk_uri, expires=r.granted_expires
        )
        registration.on_failed = lambda r, status, reason: log.error(
            "registration failed", registrar=settings.sip_trunk_uri, status=status, reason=reason
        )
        self.registration = registration
        self.retransmitter.track(registration.register(), registration.registrar)

    def _auth(self) -> SipDigestAuth | None:
        settings = self.settings
        if not settings.sip_trunk_username:
            return None
        return SipDigestAuth(settings.sip_trunk_username, settings.sip_trunk_password)

    async def stop(self) -> None:
        for leg in list(self.legs.values()):
            self.hangup(leg)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.registration is not None:
            self.registration.unregister()
        self.retransmitter.close()
        await self.uas.stop()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- incoming calls --------------------------------------------------------------------

    def _allowed_source(self, addr: Address) -> bool:
        if not self._allowed:
            return True
        try:
            ip = ipaddress.ip_address(addr[0])
        except ValueError:
            return False
        return any(ip in network for network in self._allowed)

    def _on_invite(self, incoming: IncomingCall) -> None:
        self._invites[incoming.call_id] = incoming
        self._spawn(self._answer(incoming))

    async def _answer(self, incoming: IncomingCall) -> None:
        try:
            await self._answer_invite(incoming)
        finally:
            self._invites.pop(incoming.call_id, None)

    async def _answer_invite(self, incoming: IncomingCall) -> None:
        runtime, settings = self.runtime, self.settings
        with bind_call(call_id=incoming.call_id, carrier="sip"):
            if not self._allowed_source(incoming.source_addr):
                log.warning("refused a call from a source not allowed", source=incoming.source_addr)
                incoming.reject(403, "Forbidden")
                return
            if runtime.engines is None or runtime.sessions >= settings.max_sessions:
                incoming.reject(503, "Service Unavailable")
                return
            if incoming.sdp_offer is None:
                incoming.reject(488, "Not Acceptable Here")  # we need the offer in the INVITE
                return
            try:
                rtp = await self._bind_rtp()
            except OSError as exc:
                log.error("no RTP port for a call", error=str(exc))
                incoming.reject(503, "Service Unavailable")
                return
            try:
                answer, negotiated = sdp.answer(incoming.sdp_offer, self.public_host, rtp.port)
            except SdpNegotiationError as exc:
                log.info("no common codec", error=str(exc))
                await rtp.close()
                incoming.reject(488, "Not Acceptable Here")
                return
            rtp.redirect(negotiated.remote)
            codec = RtpCodec(negotiated.params)
            leg = Leg(incoming.call_id, incoming.source_addr, rtp, codec, incoming=incoming)
            self._hold(leg, negotiated.held)
            self.legs[leg.call_id] = leg
            try:
                incoming.ringing()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(settings.sip_ring_ms / 1000):
                        await leg.cancelled.wait()
                if leg.cancelled.is_set():
                    log.info("caller cancelled while ringing")
                    leg.ended_by = "cancel"
                    return
                incoming.accept(answer)
                leg.answered = True
                started = CallStarted(
                    call_id=incoming.call_id,
                    media=MediaFormat(negotiated.params.encoding, CLOCK_RATE),
                    from_number=_user(incoming.invite.headers.get_first("from") or ""),
                    to_number=_user(incoming.invite.uri),
                    parameters=dict(incoming.x_headers),
                )
                await self._serve(leg, started)
            finally:
                await self._finish(leg)

    async def _serve(self, leg: Leg, started: CallStarted) -> None:
        call = Call(
            leg.codec,
            leg.rtp,
            engines=self.runtime.engines,
            settings=self.settings,
            control=lambda call, _: SipControl(self, leg, call),
            controller=self.runtime.call_flow,
        )
        call.hooks.on_dtmf.append(lambda digit: setattr(leg, "digits", leg.digits + digit))
        call.hooks.on_event.append(lambda event: self._observe(leg, event))
        filler = asyncio.create_task(self._fill_silence(leg, started.media))
        try:
            await run_call(self.runtime, call, started)
        finally:
            filler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await filler
        if leg.rtp.timed_out:
            leg.ended_by = leg.ended_by or "media timeout"
        self.hangup(leg)  # the call ended on our side (or the media died): say goodbye

    @staticmethod
    def _observe(leg: Leg, event: ev.ServerEvent) -> None:
        if isinstance(event, ev.InputAudioBufferSpeechStarted):
            leg.utterances += 1

    async def _fill_silence(self, leg: Leg, media: MediaFormat) -> None:
        """Phones send RTP all call long, and so do we: silence while the agent is quiet. It
        shows the peer where our media comes from (symmetric RTP), keeps NAT bindings open
        and keeps the peer's own RTP timeout from firing."""
        loop = asyncio.get_running_loop()
        frame_s = media.frame_ms / 1000
        next_at = loop.time()
        while True:
            next_at += frame_s
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if loop.time() - leg.rtp.last_sent > frame_s * 1.5:
                for packet in leg.codec.media(media.silence):
                    await leg.rtp.send(packet)

    async def _finish(self, leg: Leg) -> None:
        self.legs.pop(leg.call_id, None)
        await leg.rtp.close()
        direction = "inbound" if leg.incoming is not None else "outbound"
        summary = LegSummary(
            leg.call_id,
            direction,
            leg.answered,
            leg.codec.receiver.packets,
            leg.ended_by,
            leg.digits,
            leg.utterances,
        )
        self.finished.append(summary)

    async def _bind_rtp(self) -> RtpTransport:
        settings = self.settings
        return await RtpTransport.bind(
            self.host, settings.sip_rtp_port_range, ("0.0.0.0", 0), settings.sip_rtp_timeout_s
        )

    def _hold(self, leg: Leg, held: bool) -> None:
        leg.codec.sending = not held
        leg.rtp.on_hold = held

    def _on_cancel(self, request: SipRequest, addr: Address) -> None:
        leg = self.legs.get(request.call_id or "")
        if leg is not None:
            leg.cancelled.set()

    def _on_bye(self, incoming: IncomingCall, request: SipRequest) -> None:
        self._gone(incoming.call_id, "caller")

    def _on_ack_timeout(self, incoming: IncomingCall) -> None:
        self._gone(incoming.call_id, "no ack")

    def _gone(self, call_id: str, why: str) -> None:
        """The dialog is over from the other side: end the call without a BYE of ours."""
        leg = self.legs.get(call_id)
        if leg is not None:
            log.info("the far end ended the call", call_id=call_id, why=why)
            leg.hung_up = True
            leg.ended_by = why
            self._spawn(leg.rtp.close())

    def _on_reinvite(self, incoming: IncomingCall) -> None:
        """Hold, resume, a new address or a new codec: answer on the same RTP port."""
        leg = self.legs.get(incoming.call_id)
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
        self._hold(leg, negotiated.held)
        log.info(
            "re-INVITE answered",
            call_id=leg.call_id,
            held=negotiated.held,
            codec=negotiated.params.encoding,
        )
        incoming.accept(answer)

    def _on_transfer_progress(self, call_id: str, status: int, reason: str) -> None:
        leg = self.legs.get(call_id)
        if leg is None or status < 200:
            return
        for future in leg.transfers.values():
            if not future.done():
                future.set_result(status)

    # --- requests we send --------------------------------------------------------------------

    def hangup(self, leg: Leg) -> None:
        """Send BYE (retransmitted until answered) unless the call is already over."""
        if leg.hung_up:
            return
        leg.hung_up = True
        leg.ended_by = leg.ended_by or "bridge"
        bye: SipRequest | None
        if leg.incoming is not None:
            bye = leg.incoming.hangup()
        else:
            assert leg.outgoing is not None
            bye = leg.outgoing.hangup(self.uac)
        if bye is not None:
            self.retransmitter.track(bye, leg.peer)
            log.info("hung up", call_id=leg.call_id)
        self._spawn(leg.rtp.close())

    def refer(
        self, leg: Leg, target: str
    ) -> tuple[asyncio.Future[SipResponse], asyncio.Future[int]]:
        """Ask the caller's side to call ``target`` (RFC 3515). Returns the REFER's final
        response and the final status its NOTIFYs report."""
        request = self.uac.send_refer(leg.dialog, target, leg.peer)
        progress: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        leg.transfers[target] = progress
        return self.retransmitter.track(request, leg.peer), progress

    # --- outbound calls ------------------------------------------------------------------

    async def dial(self, target: str) -> str:
        """Call ``target`` (a number, sent to the trunk, or a SIP URI) and serve it like any
        other call. Returns the Call-ID once answered; raises SipError otherwise."""
        settings = self.settings
        uri = target if target.startswith("sip:") else self._trunk_uri(target)
        parsed = parse_uri(uri)
        peer = (parsed.host, parsed.port or 5060)
        trunk = parse_uri(settings.sip_trunk_uri) if settings.sip_trunk_uri else None
        if trunk is not None and not target.startswith("sip:"):
            peer = (trunk.host, trunk.port or 5060)
        rtp = await self._bind_rtp()
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
        self.legs[leg.call_id] = leg
        started = CallStarted(
            call_id=outgoing.call_id,
            media=MediaFormat(negotiated.params.encoding, CLOCK_RATE),
            from_number=_user(self._from_uri()),
            to_number=_user(uri),
            parameters={"direction": "outbound"},
        )

        async def serve() -> None:
            try:
                await self._serve(leg, started)
            finally:
                await self._finish(leg)

        self._spawn(serve())
        return outgoing.call_id

    def _trunk_uri(self, number: str) -> str:
        if not self.settings.sip_trunk_uri:
            raise SipError("dialling a number needs BRIDGE_SIP_TRUNK_URI")
        trunk = parse_uri(self.settings.sip_trunk_uri)
        port = f":{trunk.port}" if trunk.port else ""
        return f"sip:{number}@{trunk.host}{port}"

    def _from_uri(self) -> str:
        user = self.settings.sip_trunk_username or "bridge"
        return f"sip:{user}@{self.public_host}:{self.port}"
