"""One WebRTC peer: aiortc's ``RTCPeerConnection`` set up the way the bridge needs it.

aiortc's defaults are wrong for a server: with no ``iceServers`` it asks Google's STUN server
(five-second answers on a multi-homed host, and no network in a test), so the list is empty
unless configured. It offers a host candidate on every IPv4 address; the answer is rewritten to
the configured addresses or an advertised one (:mod:`bridge.webrtc.sdp`). A browser that never
sends a connectivity check leaves the peer ``connecting`` forever, so a watchdog closes a peer
that has not connected in time. Every task a call starts on the peer is owned by it and ends
with it, and :class:`PeerRegistry` counts the live peers so a leak shows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack

from bridge.logging import get_logger
from bridge.webrtc import compat
from bridge.webrtc.compat import take_over_receiver
from bridge.webrtc.outbound import PacedAudioTrack
from bridge.webrtc.sdp import rewrite_candidates, sent_audio_codec

log = get_logger("bridge.webrtc")


@dataclass(frozen=True, slots=True)
class PeerSettings:
    """``ice_servers``: STUN/TURN URLs (``stun:host:port``, ``turn:host:port?transport=udp``);
    the TURN credentials apply to every ``turn:``/``turns:`` URL."""

    ice_servers: tuple[str, ...] = ()
    turn_username: str | None = None
    turn_credential: str | None = None
    host_addresses: frozenset[str] = frozenset()
    advertised_address: str | None = None
    connect_timeout_s: float = 15.0

    def rtc_configuration(self) -> RTCConfiguration:
        servers = [
            RTCIceServer(urls=url, username=self.turn_username, credential=self.turn_credential)
            if url.startswith(("turn:", "turns:"))
            else RTCIceServer(urls=url)
            for url in self.ice_servers
        ]
        return RTCConfiguration(iceServers=servers)  # [] means none: never Google's STUN


@dataclass
class PeerRegistry:
    """The live peers of a process (for leak checks and metrics)."""

    live: set[Peer] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.live)


class Peer:
    """A peer connection with the bridge's outbound track, answering one offer."""

    def __init__(
        self,
        settings: PeerSettings,
        registry: PeerRegistry | None = None,
        *,
        track: PacedAudioTrack | None = None,
    ) -> None:
        compat.install()
        self.settings = settings
        self.pc = RTCPeerConnection(settings.rtc_configuration())
        self.track = track or PacedAudioTrack()
        self.channels: asyncio.Queue[RTCDataChannel] = asyncio.Queue()
        self.remote_audio: asyncio.Future[MediaStreamTrack] = (
            asyncio.get_running_loop().create_future()
        )
        self.connected = asyncio.Event()
        self.closed = asyncio.Event()  # set as closing starts
        self.ended = asyncio.Event()  # set once closed: tasks ended, registry updated
        self.on_close: list[Callable[[], None]] = []  # called once, when the peer is closed
        # Called as each data channel arrives, before any of its messages: a handler attached
        # later (by a task) could miss what the client sends the moment the channel opens.
        self.on_channel: list[Callable[[RTCDataChannel], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._registry = registry
        if registry is not None:
            registry.live.add(self)
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_channel)
        self.pc.on("connectionstatechange", self._on_state)

    @property
    def tasks(self) -> set[asyncio.Task[Any]]:
        return self._tasks

    async def answer(self, offer: str) -> str:
        """Answer a checked offer; the SDP returned carries all our candidates (aiortc does not
        trickle). Starts the connect watchdog."""
        self.pc.addTrack(self.track)
        # Added first, the track's transceiver takes the offer's audio m-line (sendrecv).
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        for receiver in self.pc.getReceivers():
            take_over_receiver(receiver)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self.spawn(self._watchdog())
        local = self.pc.localDescription
        codec = sent_audio_codec(local.sdp)
        if codec is not None:
            self.track.encode_as(codec)
        return rewrite_candidates(
            local.sdp,
            host_addresses=self.settings.host_addresses,
            advertised=self.settings.advertised_address,
        )

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coroutine`` for as long as the peer lives; cancelled when it closes."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("webrtc peer task failed", error=repr(task.exception()))

    def _on_channel(self, channel: RTCDataChannel) -> None:
        for callback in self.on_channel:
            callback(channel)
        self.channels.put_nowait(channel)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and not self.remote_audio.done():
            self.remote_audio.set_result(track)

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self.connected.set()
        elif state in ("failed", "closed") and not self.closed.is_set():
            log.info("webrtc peer ended", state=state)
            self.spawn_close()

    async def _watchdog(self) -> None:
        try:
            async with asyncio.timeout(self.settings.connect_timeout_s):
                await self.connected.wait()
        except TimeoutError:
            log.warning(
                "webrtc peer never connected; closing it",
                timeout_s=self.settings.connect_timeout_s,
            )
            self.spawn_close()

    def spawn_close(self) -> None:
        """Close from a callback (not awaited here); the close task is not one of the peer's
        own tasks, so closing does not cancel itself."""
        task = asyncio.create_task(self.close())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)

    async def close(self) -> None:
        """Close the connection, stop the track, end every task; idempotent."""
        if self.closed.is_set():
            return
        self.closed.set()
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        self.track.stop()
        with contextlib.suppress(Exception):
            await self.pc.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        if not self.remote_audio.done():
            self.remote_audio.cancel()
        if self._registry is not None:
            self._registry.live.discard(self)
        callbacks, self.on_close = self.on_close, []
        for callback in callbacks:
            callback()
        self.ended.set()


_CLOSING: set[asyncio.Task[None]] = set()  # close tasks in flight (kept from the collector)
