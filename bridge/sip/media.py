"""One SIP call's RTP socket, as a :class:`~bridge.calls.call.Transport`.

Binds before the call is answered (the SDP answer names its port), sends to the address the
SDP gave until the peer's first packet arrives, then latches onto where that packet really came
from (a peer behind NAT advertises an address it cannot be reached at). Packets from anywhere
else are dropped after that. When nothing arrives for ``timeout_s`` (``hold_timeout_s`` while
the call is on hold, counted from the hold), ``receive`` reports the peer gone so the call
ends: a held call that never resumes does not keep its port, task and admission forever.

Phones with silence suppression (and sipp's pcap playback) send nothing while the caller is
quiet; then ``receive`` returns :data:`SILENCE` for every 20 ms left out, so turn detection
still hears the pause that ends a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable

from aiortp.packet import RtpPacket

from bridge.logging import get_logger

log = get_logger("bridge.sip")
MAX_QUEUED = 500  # 10 s of 20 ms packets: a stalled call sheds old audio, not memory
GAP_S = 0.1  # no packet for this long: the peer is suppressing silence (or stopped sending)
FILL_S = 0.02
SILENCE = b""  # what receive() returns for each 20 ms the peer left out

Address = tuple[str, int]


class Datagrams(asyncio.DatagramProtocol):
    """Hands each datagram to ``deliver`` with its (host, port) source."""

    def __init__(self, deliver: Callable[[bytes, Address], None]) -> None:
        self._deliver = deliver

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self._deliver(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # ICMP "port unreachable": a peer not listening yet, or gone. Timeouts deal with it.
        pass


class RtpTransport:
    def __init__(self, remote: Address, timeout_s: float, hold_timeout_s: float = 3600.0) -> None:
        self.remote = remote
        self.timeout_s = timeout_s
        self.hold_timeout_s = hold_timeout_s
        self._on_hold = False
        self._udp: asyncio.DatagramTransport | None = None
        self._latched = False
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._closed = False
        self.port = 0
        self.last_sent = 0.0  # loop time of the last packet out
        self._last_arrival = 0.0  # loop time of the last datagram in (or of binding)
        self._filled_until = 0.0  # silence handed out up to this loop time
        self.timed_out = False

    @classmethod
    async def bind(
        cls,
        host: str,
        ports: range,
        remote: Address,
        timeout_s: float,
        hold_timeout_s: float = 3600.0,
    ) -> RtpTransport:
        """Bind an even port from ``ports`` (RTP convention; RTCP would take the odd one)."""
        loop = asyncio.get_running_loop()
        transport = cls(remote, timeout_s, hold_timeout_s)
        candidates = [port for port in ports if port % 2 == 0]
        random.shuffle(candidates)  # concurrent calls rarely race for the same port
        for port in candidates or [0]:
            try:
                udp, _ = await loop.create_datagram_endpoint(
                    lambda: Datagrams(transport._arrived), local_addr=(host, port)
                )
            except OSError:
                continue
            transport._udp = udp
            transport._last_arrival = loop.time()
            transport.port = int(udp.get_extra_info("sockname")[1])
            return transport
        raise OSError(f"no free RTP port in {ports.start}-{ports.stop - 1}")

    @property
    def on_hold(self) -> bool:
        return self._on_hold

    @on_hold.setter
    def on_hold(self, held: bool) -> None:
        """Hold or resume: the quiet time counts afresh from now, so a call resumed after a
        long hold is not timed out before the peer's first packet."""
        if held != self._on_hold:
            self._on_hold = held
            self._last_arrival = asyncio.get_running_loop().time()

    @property
    def closed(self) -> bool:
        return self._closed

    def redirect(self, remote: Address) -> None:
        """A re-INVITE moved the peer's media: send there and latch afresh."""
        if remote != self.remote:
            self.remote = remote
            self._latched = False

    def _arrived(self, data: bytes, addr: Address) -> None:
        if self._closed:
            return
        if not self._latched:
            try:
                RtpPacket.parse(data)
            except ValueError:
                return  # never latch onto garbage
            self.remote, self._latched = addr, True
        elif addr != self.remote:
            return  # not our peer
        self._last_arrival = asyncio.get_running_loop().time()
        if self._queue.qsize() >= MAX_QUEUED:
            self._queue.get_nowait()
        self._queue.put_nowait(data)

    async def receive(self) -> bytes | None:
        """The next datagram, SILENCE for a 20 ms gap, or None once closed or when the peer has
        sent nothing for ``timeout_s`` (unless it holds the call)."""
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue.empty():
                return self._queue.get_nowait()
            now = loop.time()
            quiet_since = self._last_arrival
            limit = self.hold_timeout_s if self._on_hold else self.timeout_s
            if now - quiet_since >= limit:
                log.info("RTP timeout: no media from the peer", seconds=limit, held=self._on_hold)
                self.timed_out = True
                return None
            # Silence is due in 20 ms steps from the start of the gap.
            next_fill = max(self._filled_until, quiet_since) + FILL_S
            if now - quiet_since >= GAP_S and next_fill <= now:
                self._filled_until = next_fill
                return SILENCE
            wait = max(next_fill, quiet_since + GAP_S) - now
            try:
                async with asyncio.timeout(wait):
                    return await self._queue.get()
            except TimeoutError:
                continue

    async def send(self, frame: str | bytes) -> None:
        if self._udp is not None and not self._closed and isinstance(frame, bytes):
            self._udp.sendto(frame, self.remote)
            self.last_sent = asyncio.get_running_loop().time()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put_nowait(None)
        if self._udp is not None:
            with contextlib.suppress(Exception):
                self._udp.close()
