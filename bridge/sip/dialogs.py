"""The SIP calls in progress: each leg served by a bridge :class:`~bridge.calls.call.Call`,
ended with BYE and transferred with REFER, and a summary of each once it is over.

Inbound and outbound legs are served alike; :mod:`bridge.sip.inbound` and
:mod:`bridge.sip.outbound` set them up. Our BYE and REFER are retransmitted until answered
(:class:`~bridge.sip.compat.Retransmitter`).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from typing import Any

from aiosipua import SipRequest, SipResponse, SipUAC

from bridge.audio.format import AudioFormat
from bridge.calls.call import Call
from bridge.carriers.base import CallStarted
from bridge.config import SipSettings
from bridge.doors.admission import Ticket
from bridge.doors.carriers import run_call
from bridge.engine import events as ev
from bridge.logging import get_logger
from bridge.runtime import Runtime
from bridge.sip.compat import Retransmitter
from bridge.sip.control import SipControl
from bridge.sip.leg import Leg, LegSummary
from bridge.sip.media import RtpTransport

log = get_logger("bridge.sip")


class Dialogs:
    def __init__(
        self,
        runtime: Runtime,
        settings: SipSettings,
        host: str,
        uac: SipUAC,
        retransmitter: Retransmitter,
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.host = host  # where RTP sockets bind
        self.uac = uac
        self.retransmitter = retransmitter
        self.legs: dict[str, Leg] = {}
        self.finished: deque[LegSummary] = deque(maxlen=500)
        self._tasks: set[asyncio.Task[None]] = set()
        self._rtp: weakref.WeakSet[RtpTransport] = weakref.WeakSet()  # every socket bound

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Hang up every call and wait for what serves them to end."""
        for leg in list(self.legs.values()):
            self.hangup(leg)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def bind_rtp(self) -> RtpTransport:
        settings = self.settings
        rtp = await RtpTransport.bind(
            self.host,
            settings.rtp_ports,
            ("0.0.0.0", 0),
            settings.rtp_timeout_s,
            settings.hold_timeout_s,
        )
        self._rtp.add(rtp)
        return rtp

    def rtp_ports(self) -> list[int]:
        """The RTP ports bound now (a call's port is released when its call ends)."""
        return sorted(rtp.port for rtp in self._rtp if not rtp.closed)

    # --- serving a call ------------------------------------------------------------------------

    async def serve(self, leg: Leg, started: CallStarted, ticket: Ticket) -> None:
        call = Call(
            leg.codec,
            leg.rtp,
            engines=ticket.engines,
            settings=self.runtime.settings,
            control=lambda call, _: SipControl(self, leg),
            controller=self.runtime.call_flow,
        )
        call.hooks.on_dtmf.append(lambda digit: setattr(leg, "digits", leg.digits + digit))
        call.hooks.on_event.append(lambda event: self._observe(leg, event))
        filler = asyncio.create_task(self._fill_silence(leg, started.media))
        try:
            await run_call(self.runtime, call, ticket, started)
        finally:
            filler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await filler
        if leg.rtp.timed_out:
            leg.ended_by = leg.ended_by or "media timeout"
        self.hangup(leg)  # the call ended on our side (or the media died): say goodbye

    @staticmethod
    def _observe(leg: Leg, event: ev.EngineEvent) -> None:
        if isinstance(event, ev.InputAudioBufferSpeechStarted):
            leg.utterances += 1

    async def _fill_silence(self, leg: Leg, media: AudioFormat) -> None:
        """Phones send RTP all call long, and so do we: silence while the agent is quiet. It
        shows the peer where our media comes from (symmetric RTP), keeps NAT bindings open
        and keeps the peer's own RTP timeout from firing."""
        loop = asyncio.get_running_loop()
        frame_s = media.frame_ms / 1000
        next_at = loop.time()
        ours = -1.0  # when our last silence went out
        while True:
            next_at += frame_s
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            # Quiet: nothing but our own silence went out since (a packet every frame, not
            # every other one). The agent's audio: stand aside until a frame and a half passes.
            last = leg.rtp.last_sent
            if last <= ours or loop.time() - last > frame_s * 1.5:
                for packet in leg.codec.media(media.silence):
                    await leg.rtp.send(packet)
                ours = leg.rtp.last_sent

    async def finish(self, leg: Leg) -> None:
        self.legs.pop(leg.call_id, None)
        await leg.rtp.close()
        self.finished.append(leg.summary())

    # --- the end of a call -----------------------------------------------------------------

    def gone(self, call_id: str, why: str) -> None:
        """The dialog is over from the other side: end the call without a BYE of ours."""
        leg = self.legs.get(call_id)
        if leg is not None:
            log.info("the far end ended the call", call_id=call_id, why=why)
            leg.hung_up = True
            leg.ended_by = why
            self.spawn(leg.rtp.close())

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
            answered = self.retransmitter.track(bye, leg.peer)
            answered.add_done_callback(lambda done: _unanswered(done, leg.call_id))
            log.info("hung up", call_id=leg.call_id)
        self.spawn(leg.rtp.close())

    # --- transfer ------------------------------------------------------------------------------

    def refer(
        self, leg: Leg, target: str
    ) -> tuple[asyncio.Future[SipResponse], asyncio.Future[int]]:
        """Ask the caller's side to call ``target`` (RFC 3515). Returns the REFER's final
        response and the final status its NOTIFYs report."""
        request = self.uac.send_refer(leg.dialog, target, leg.peer)
        progress: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        leg.transfers[target] = progress
        return self.retransmitter.track(request, leg.peer), progress

    def transfer_progress(self, call_id: str, status: int, reason: str) -> None:
        """A NOTIFY about a REFER of ours: a final status settles the transfer."""
        leg = self.legs.get(call_id)
        if leg is None or status < 200:
            return
        for future in leg.transfers.values():
            if not future.done():
                future.set_result(status)


def _unanswered(answered: asyncio.Future[SipResponse], call_id: str) -> None:
    """Our BYE got no answer within 64 x T1 (a peer that vanished): the call is over anyway;
    taking the error here keeps asyncio from reporting it as never retrieved."""
    if not answered.cancelled() and answered.exception() is not None:
        log.info("BYE not answered", call_id=call_id)
