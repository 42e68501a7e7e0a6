"""What aiosipua leaves out over UDP, done beside it (RFC 3261 §17.1).

* Our requests (INVITE, BYE, REFER, NOTIFY) are sent once by aiosipua; a lost datagram would
  leave a call hanging. :class:`Retransmitter` resends each on the T1-doubling schedule until
  a response arrives (for INVITE, any response; otherwise a final one), and hands the final
  response to whoever awaits it.
* A final error response to our INVITE (including a 401/407 challenge) must be ACKed in the
  same transaction, or the far end keeps repeating it; :func:`ack_for_error` builds that ACK.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiosipua import SipRequest, SipResponse

T1 = 0.5  # RFC 3261's round-trip estimate; T2 = 8 x T1 caps the interval, 64 x T1 gives up

Address = tuple[str, int]
Key = tuple[str, int, str]  # Call-ID, CSeq number, method


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


def ack_for_error(invite: SipRequest, response: SipResponse) -> SipRequest:
    """The ACK for a non-2xx final response: part of the INVITE's own transaction, so it
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


async def settle(future: asyncio.Future[SipResponse], timeout_s: float) -> SipResponse | None:
    """The final response, or None when none came in time."""
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        async with asyncio.timeout(timeout_s):
            return await future
    return None
