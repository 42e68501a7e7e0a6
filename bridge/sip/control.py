"""Call control for SIP calls: BYE, blind transfer with REFER, and RFC 4733 digits."""

from __future__ import annotations

import asyncio
from typing import Protocol

from aiosipua import SipResponse

from bridge.calls.control import ControlFailed
from bridge.sip.compat import settle
from bridge.sip.leg import Leg

TRANSFER_TIMEOUT_S = 30.0  # for the REFER's answer and for the far end to report the outcome
DIGIT_GAP_MS = 100  # between key presses


class Signalling(Protocol):
    """The requests call control sends in a leg's dialog (:class:`~bridge.sip.dialogs.Dialogs`)."""

    def hangup(self, leg: Leg) -> None: ...

    def refer(
        self, leg: Leg, target: str
    ) -> tuple[asyncio.Future[SipResponse], asyncio.Future[int]]: ...


class SipControl:
    def __init__(self, signalling: Signalling, leg: Leg) -> None:
        self._signalling = signalling
        self._leg = leg

    async def hangup(self) -> None:
        self._signalling.hangup(self._leg)

    async def transfer(self, target: str) -> None:
        """Blind transfer: REFER the caller to ``target``; once the far end reports the new
        call answered (its NOTIFY), our leg is done and we hang up."""
        leg = self._leg
        uri = target if target.startswith(("sip:", "sips:", "tel:")) else self._uri_for(target)
        accepted, outcome = self._signalling.refer(leg, uri)
        response = await settle(accepted, TRANSFER_TIMEOUT_S)
        if response is None or response.status_code >= 300:
            status = "no answer" if response is None else response.status_code
            raise ControlFailed(f"REFER to {uri} refused ({status})")
        try:
            async with asyncio.timeout(TRANSFER_TIMEOUT_S):
                status_code = await outcome
        except TimeoutError:
            status_code = 200  # accepted and never reported: a blind transfer is done anyway
        finally:
            leg.transfers.pop(uri, None)
        if status_code >= 300:
            raise ControlFailed(f"transfer to {uri} failed ({status_code})")
        self._signalling.hangup(leg)

    def _uri_for(self, number: str) -> str:
        host, port = self._leg.peer
        return f"sip:{number}@{host}:{port}"

    async def send_dtmf(self, digits: str) -> None:
        """Key presses as RFC 4733 events, each packet on its own deadline."""
        codec, rtp = self._leg.codec, self._leg.rtp
        loop = asyncio.get_running_loop()
        start = loop.time()
        offset_ms = 0
        for digit in digits:
            try:
                packets = codec.sender.dtmf(digit)
            except ValueError as exc:
                raise ControlFailed(str(exc)) from None
            for at_ms, build in packets:
                await asyncio.sleep(max(0.0, start + (offset_ms + at_ms) / 1000 - loop.time()))
                await rtp.send(build())
            offset_ms += packets[-1][0] + DIGIT_GAP_MS
