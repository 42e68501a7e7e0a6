"""Every workaround for what aiosipua (0.7.1) leaves out or gets wrong, in one place.

aiosipua parses and builds SIP messages, keeps dialogs and answers the simple requests itself
(100 Trying, CANCEL → 200 + 487, BYE → 200, OPTIONS → 200, our 200 OK repeated until the ACK).
Where that falls short of a phone server on UDP, the bridge works around it here:

1. uvloop (:class:`UdpTransport`). aiosipua's UDP protocol asserts that its transport is an
   ``asyncio.DatagramTransport``; uvloop's is not, so under ``bridge serve`` the assert failed on
   connection and the user agent never answered anything. Ours binds with our own
   :class:`~bridge.sip.media.Datagrams` protocol.
2. The bound port (:meth:`UdpTransport.advertise`). Via and Contact carry ``local_addr`` as
   given, so a socket bound to port 0 would advertise port 0, and aiosipua has no public way to
   its socket. We read the real port off it and advertise the public host with that port.
3. Repeated INVITEs (:class:`Screen`). A caller repeats its INVITE until it hears from us;
   aiosipua takes the repeat for a new call and would start a second dialog (a second answer).
   We swallow the repeat and repeat our last word instead (180 while ringing; the 200, once
   sent, repeats by itself).
4. Our requests are sent once (:class:`Retransmitter`). aiosipua sends INVITE, BYE, REFER and
   REGISTER once; over UDP a lost datagram would leave a call hanging. We resend each on the
   T1-doubling schedule of RFC 3261 §17.1 until a response arrives (for INVITE, any response;
   otherwise a final one), and hand the final response to whoever awaits it.
5. No ACK for an error response to our INVITE (:func:`ack_for_error`). A final non-2xx response
   (a 401/407 challenge included) must be ACKed in the INVITE's own transaction, or the far end
   keeps repeating it.
6. No hook before dispatch (:class:`Screen`). 3, 4 and 5 need to see each message before
   aiosipua does; we wrap the transport's ``on_message`` callback that aiosipua installs.
7. Refusing a re-INVITE (:func:`refuse_reinvite`). ``IncomingCall.reject`` also terminates the
   dialog, which would end a call whose re-INVITE we merely cannot accept; we send the 488
   through its private ``_send_response`` and the call goes on.
8. Why our INVITE failed (:func:`rejected_status`). ``OutgoingCall.wait_answered`` raises a
   RuntimeError with the status only in its text; the number is in the private
   ``_reject_code``.
9. SDP versions (:func:`bump_version`). ``negotiate_sdp`` builds every answer afresh with its
   version equal to its session id; an answer to a re-offer must carry a new version
   (RFC 3264 §8).
10. SDP ptime (:func:`own_ptime`). ``negotiate_sdp`` copies the offer's ptime into the answer;
    we send 20 ms packets whatever the peer sends, and the answer must say so.
11. SDP offers (:func:`offer_also`). ``build_sdp`` offers one codec; we offer PCMU and PCMA.
12. Log noise (:func:`quiet_logs`). aiosipua logs through the standard library (a warning with a
    traceback for every datagram it cannot parse); we keep its chatter out of our logs.
13. An unparsable SDP body (:class:`Screen`). aiosipua parses an INVITE's SDP inside its
    dispatch; a body it cannot parse (``m=audio abc ...``) raises there, is logged, and the
    INVITE is never answered: the caller hangs until its own timeout. We parse it first and
    answer 400 Bad Request.
14. Record-Route (:func:`follow_record_route`). RFC 3261 §12.1.1: a UAS copies the INVITE's
    Record-Route into its responses that make the dialog (180, 200), and its route set is those
    URIs *in order*. aiosipua copies none (so an edge proxy such as Kamailio drops out of the
    dialog: the ACK and BYE miss it) and reverses the route set (the UAC's rule).
15. Refusals with headers (:func:`refuse_invite`) and OPTIONS (:func:`answer_options`).
    ``IncomingCall.reject`` sends no ``Retry-After``; aiosipua answers every OPTIONS 200 itself
    unless ``on_options`` is set, and then builds nothing: we answer 503 while the bridge takes
    no calls (a dispatcher's OPTIONS probe counts only 200 as up) and aiosipua's own 200
    otherwise.

(``negotiate_sdp`` answers telephone-event as 101 unless told otherwise; :mod:`bridge.sip.sdp`
passes the offer's own payload type, a parameter rather than a workaround. aiortp's PCMA decoder
inverts every sample's sign, so :mod:`bridge.sip.rtp` does G.711 itself.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiosipua import (
    DialogState,
    IncomingCall,
    OutgoingCall,
    SdpMessage,
    SipRequest,
    SipResponse,
    SipUAC,
    SipUAS,
    UdpSipTransport,
    parse_sdp,
)

from bridge.sip.media import Datagrams

T1 = 0.5  # RFC 3261's round-trip estimate; T2 = 8 x T1 caps the interval, 64 x T1 gives up

Address = tuple[str, int]
Key = tuple[str, int, str]  # Call-ID, CSeq number, method


# --- 1, 2: the UDP transport ---------------------------------------------------------------


@dataclass
class UdpTransport(UdpSipTransport):
    """aiosipua's UDP transport with our own protocol (gap 1)."""

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: Datagrams(self._dispatch), local_addr=self.local_addr
        )
        self._udp_transport = transport

    def advertise(self, public_host: str) -> int:
        """Once started: the port bound, which Via and Contact now carry (gap 2)."""
        udp = self._udp_transport
        assert udp is not None
        port = int(udp.get_extra_info("sockname")[1])
        self.local_addr = (public_host, port)
        return port


# --- 4, 5: reliability of our own requests ----------------------------------------------------


def _key(message: SipRequest | SipResponse) -> Key | None:
    cseq = message.cseq
    if cseq is None:
        return None
    return (message.call_id or "", cseq.seq, cseq.method.upper())


class _Pending:
    def __init__(self, task: asyncio.Task[None], future: asyncio.Future[SipResponse]) -> None:
        self.task = task
        self.future = future


class Retransmitter:
    """Resends our requests until answered (gap 4)."""

    def __init__(self, send: Callable[[SipRequest, Address], None], t1: float = T1) -> None:
        self._send = send
        self._t1 = t1
        self._pending: dict[Key, _Pending] = {}

    def track(self, request: SipRequest, addr: Address) -> asyncio.Future[SipResponse]:
        """Keep resending ``request`` (already sent once) until it is answered; the future
        resolves with the final response, or fails with TimeoutError after 64*T1."""
        key = _key(request)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SipResponse] = loop.create_future()
        if key is None:
            future.set_exception(ValueError("request without CSeq"))
            return future
        task = loop.create_task(self._resend(key, request, addr, future))
        self._pending[key] = _Pending(task, future)
        return future

    async def _resend(
        self, key: Key, request: SipRequest, addr: Address, future: asyncio.Future[SipResponse]
    ) -> None:
        t1 = self._t1
        interval, waited = t1, 0.0
        while waited < 64 * t1:
            await asyncio.sleep(interval)
            waited += interval
            self._send(request, addr)
            interval = min(interval * 2, 8 * t1)  # T2 is 8 x T1
        pending = self._pending.get(key)
        if pending is not None and pending.future is future:
            del self._pending[key]
        if not future.done():
            future.set_exception(TimeoutError(f"no answer to {request.method}"))

    def response(self, response: SipResponse) -> None:
        """A response arrived: stop resending what it answers."""
        key = _key(response)
        if key is None or (pending := self._pending.get(key)) is None:
            return
        provisional = response.status_code < 200
        if provisional and key[2] != "INVITE":
            return  # non-INVITE: keep going until the final answer (Timer E)
        pending.task.cancel()
        if not provisional:
            del self._pending[key]
            if not pending.future.done():
                pending.future.set_result(response)

    def close(self) -> None:
        for pending in self._pending.values():
            pending.task.cancel()
            if not pending.future.done():
                pending.future.cancel()
        self._pending.clear()


async def settle(future: asyncio.Future[SipResponse], timeout_s: float) -> SipResponse | None:
    """The final response a :class:`Retransmitter` hands over, or None when none came in time."""
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        async with asyncio.timeout(timeout_s):
            return await future
    return None


def ack_for_error(invite: SipRequest, response: SipResponse) -> SipRequest:
    """The ACK for a non-2xx final response (gap 5): part of the INVITE's own transaction, so it
    reuses its Request-URI, top Via (branch) and CSeq number, with the response's To tag."""
    ack = SipRequest(method="ACK", uri=invite.uri)
    vias = invite.headers.get("via")
    if vias:
        ack.headers.append("Via", vias[0])
    for name in ("From", "Call-ID", "Route"):
        for value in invite.headers.get(name):
            ack.headers.append(name, value)
    to = response.headers.get_first("to")
    if to:
        ack.headers.set_single("To", to)
    cseq = invite.cseq
    if cseq is not None:
        ack.headers.set_single("CSeq", f"{cseq.seq} ACK")
    ack.headers.set_single("Max-Forwards", "70")
    return ack


# --- 3, 5, 6: what we see before aiosipua's dispatch -----------------------------------------


def _same_transaction(first: SipRequest, second: SipRequest) -> bool:
    def key(request: SipRequest) -> tuple[str, int | None]:
        vias = request.via
        cseq = request.cseq
        return (vias[0].branch or "" if vias else "", cseq.seq if cseq else None)

    return key(first) == key(second)


class Screen:
    """Every message passes here before aiosipua's dispatch (gap 6): responses stop our
    retransmissions and get the ACK aiosipua leaves out; repeated INVITEs go no further."""

    def __init__(
        self,
        transport: UdpTransport,
        uac: SipUAC,
        retransmitter: Retransmitter,
        answering: Mapping[str, IncomingCall],
        refuse: Callable[[SipRequest, int, str], None],
    ) -> None:
        """``refuse(request, status, reason)``: answer a request outside any dialog."""
        self._transport = transport
        self._refuse = refuse
        self._uac = uac
        self._retransmitter = retransmitter
        self._answering = answering  # INVITEs being answered, by Call-ID

    def install(self) -> None:
        """Wrap the callback aiosipua put on the transport (once it has started)."""
        dispatch = self._transport.on_message
        assert dispatch is not None

        def on_message(message: SipRequest | SipResponse, addr: Address) -> None:
            if isinstance(message, SipResponse):
                self._response(message)
            elif self._repeated_invite(message) or self._bad_sdp(message):
                return
            dispatch(message, addr)

        self._transport.on_message = on_message

    def _response(self, response: SipResponse) -> None:
        self._retransmitter.response(response)
        cseq = response.cseq
        if cseq is None or cseq.method.upper() != "INVITE" or response.status_code < 300:
            return
        outgoing = self._uac.get_call(response.call_id or "")
        answered = outgoing.invite.cseq if outgoing is not None else None
        if outgoing is not None and answered is not None and answered.seq == cseq.seq:
            self._transport.send(ack_for_error(outgoing.invite, response), outgoing.remote_addr)

    def _bad_sdp(self, request: SipRequest) -> bool:
        """Gap 13: an SDP body aiosipua would fail on gets 400 here."""
        if not request.body or request.content_type != "application/sdp":
            return False
        try:
            parse_sdp(request.text)
        except Exception:  # aiosipua raises ValueError, IndexError, ... on malformed lines
            if request.method.upper() != "ACK":
                self._refuse(request, 400, "Bad Request")
            return True
        return False

    def _repeated_invite(self, request: SipRequest) -> bool:
        """Gap 3: a repeat of an INVITE we are answering is not a new call."""
        if request.method.upper() != "INVITE":
            return False
        pending = self._answering.get(request.call_id or "")
        if pending is None or not _same_transaction(pending.invite, request):
            return False
        if pending.dialog.state != DialogState.CONFIRMED:
            pending.ringing()  # still ringing (the 200, once sent, repeats by itself)
        return True


# --- 7, 8, 14, 15: private parts of aiosipua's calls ---------------------------------------------


def refuse_reinvite(incoming: IncomingCall, status: int, reason: str) -> None:
    """Refuse a re-INVITE and keep the dialog (gap 7)."""
    incoming._send_response(status, reason)


def refuse_invite(incoming: IncomingCall, status: int, reason: str, retry_after: int) -> None:
    """Refuse an INVITE with a ``Retry-After`` (gap 15)."""
    incoming._send_response(status, reason, extra_headers={"Retry-After": str(retry_after)})
    incoming.dialog.terminate()


def answer_options(uas: SipUAS, request: SipRequest, addr: Address) -> None:
    """aiosipua's own 200 to an OPTIONS, from inside our ``on_options`` (gap 15)."""
    ours, uas.on_options = uas.on_options, None
    try:
        uas._handle_options(request, addr)
    finally:
        uas.on_options = ours


def follow_record_route(incoming: IncomingCall) -> None:
    """Echo the INVITE's Record-Route in the responses that make the dialog, and route our
    in-dialog requests through it in order (gap 14)."""
    record_route = list(incoming.invite.headers.get("record-route"))
    if not record_route:
        return
    dialog = incoming.dialog
    dialog.route_set = list(record_route)
    create = dialog.create_response

    def create_response(
        request: SipRequest,
        status_code: int,
        reason_phrase: str = "",
        *,
        contact: str | None = None,
    ) -> SipResponse:
        response = create(request, status_code, reason_phrase, contact=contact)
        if request is incoming.invite and 100 < status_code < 300:
            for value in record_route:
                response.headers.append("Record-Route", value)
        return response

    dialog.create_response = create_response  # type: ignore[method-assign]


def rejected_status(outgoing: OutgoingCall) -> int | None:
    """The status that refused our INVITE, if one did (gap 8)."""
    return getattr(outgoing, "_reject_code", 0) or None


# --- 9, 10, 11: SDP ------------------------------------------------------------------------------


def bump_version(answer: SdpMessage, changes: int) -> None:
    """Give an answer to a re-offer a version of its own (gap 9)."""
    answer.origin.session_version = str(int(answer.origin.session_id) + changes)


def own_ptime(sdp: SdpMessage, ptime_ms: int) -> None:
    """The answer states our packet time, not the offer's (gap 10)."""
    audio = sdp.audio
    if audio is not None:
        audio.attributes["ptime"] = [str(ptime_ms)]


def offer_also(sdp: SdpMessage, payload_type: int, name: str) -> None:
    """Offer a second codec, right after the first (gap 11)."""
    audio = sdp.audio
    assert audio is not None
    audio.formats.insert(1, str(payload_type))
    audio.attributes["rtpmap"].insert(1, f"{payload_type} {name}/8000")


# --- 12 ----------------------------------------------------------------------------------------


def quiet_logs() -> None:
    """aiosipua logs through the standard library; keep its chatter out of our logs."""
    logging.getLogger("aiosipua").setLevel(logging.ERROR)
