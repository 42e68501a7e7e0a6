"""A softphone call's WebRTC peer as a call :class:`~bridge.calls.call.Transport`.

The call adapter reads frames and writes frames; this transport makes a browser peer (the
media layer's :class:`~bridge.webrtc.peer.Peer`) look like that. Inbound: the caller's audio
(mono PCM16 at the track's rate), the page's data-channel messages, and the echoes of marks.
Outbound: audio goes to the peer's paced track, whose clock is aiortc pulling one 20 ms frame
at a time. A mark is echoed once the track has handed out every byte queued before it, and a
clear drops the track's queue and echoes every mark still pending (a carrier reports marks of
cleared audio as played too). So "what the caller heard", which barge-in truncates the reply
to, is what really left for the peer.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

from bridge.audio.format import AudioFormat
from bridge.carriers.base import Frame
from bridge.logging import get_logger
from bridge.webrtc import EventChannel, PacedAudioTrack, Peer, PeerRegistry, PeerSettings
from bridge.webrtc import check_offer as check_sdp
from bridge.webrtc.inbound import consume
from bridge.webrtc.outbound import RATE

log = get_logger("bridge.softphone")

MEDIA = AudioFormat("pcm16", RATE)  # the track's rate, which it encodes as it is
MAX_PAGE_MESSAGE_CHARS = 4096  # the page sends digits and hang-ups, nothing bigger
MAX_QUEUED_FRAMES = 500  # inbound frames (10 s of audio) before audio is dropped
MAX_EARLY_EVENTS = 200  # events kept for a data channel that has not opened yet
CHANNEL_LABEL = "softphone"


class OfferRejected(ValueError):
    """An SDP offer the bridge cannot answer (not SDP, or no audio to talk over)."""


class MarkingTrack(PacedAudioTrack):
    """The media layer's paced track, counting the bytes pushed (its ``on_frame`` reports each
    frame handed out, so marks can be echoed at the moment their audio left)."""

    def __init__(self) -> None:
        super().__init__()
        self.pushed_bytes = 0

    def push(self, pcm: bytes) -> None:
        self.pushed_bytes += len(pcm)
        super().push(pcm)

    @property
    def handed_bytes(self) -> int:
        """Pushed bytes handed to aiortc or dropped by a clear."""
        return self.pushed_bytes - round(self.queued_ms * RATE * 2 / 1000)


class SoftphoneTransport:
    def __init__(self, peer: Peer, track: MarkingTrack) -> None:
        self.media = MEDIA
        self.peer = peer
        self._track = track
        self._inbound: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._marks: deque[tuple[int, str]] = deque()  # (bytes pushed before it, name)
        self._channel: EventChannel | None = None
        self._dropped = 0
        self._refused = 0
        self._early: list[dict[str, Any]] = []  # events before the channel opened
        track.on_frame = lambda _at, _pcm: self._echo_marks()
        peer.on_close.append(lambda: self._inbound.put_nowait(None))

    @classmethod
    async def answer(
        cls, raw_offer: bytes, settings: PeerSettings, registry: PeerRegistry | None = None
    ) -> tuple[SoftphoneTransport, str]:
        """A transport for this offer and the answer SDP; raises :class:`OfferRejected`."""
        try:
            offer = raw_offer.decode("utf-8")
            check_sdp(offer)
        except UnicodeDecodeError:
            raise OfferRejected("The SDP offer is not UTF-8 text.") from None
        except ValueError as exc:  # SdpError: says what is wrong
            raise OfferRejected(str(exc)) from None
        track = MarkingTrack()
        peer = Peer(settings, registry, track=track)
        transport = cls(peer, track)
        try:
            answer = await peer.answer(offer)
        except ValueError as exc:  # aiortc refused what the checks let through
            await peer.close()
            raise OfferRejected(str(exc) or "aiortc cannot answer it") from None
        except BaseException:
            await peer.close()
            raise
        peer.spawn(transport._read_audio())
        peer.spawn(transport._take_channel())
        return transport, answer

    async def connected(self) -> bool:
        """Wait for the peer to connect; False once the media layer's watchdog closed it."""
        connected = asyncio.ensure_future(self.peer.connected.wait())
        closed = asyncio.ensure_future(self.peer.closed.wait())
        try:
            await asyncio.wait([connected, closed], return_when=asyncio.FIRST_COMPLETED)
        finally:
            connected.cancel()
            closed.cancel()
        return self.peer.connected.is_set() and not self.peer.closed.is_set()

    # --- inbound ----------------------------------------------------------------------

    async def _read_audio(self) -> None:
        track = await self.peer.remote_audio
        await consume(track, RATE, self._deliver)

    async def _deliver(self, audio: bytes) -> None:
        if self._inbound.qsize() < MAX_QUEUED_FRAMES:
            self._inbound.put_nowait(audio)
            return
        self._dropped += 1
        if self._dropped == 1:
            log.warning("softphone audio dropped: the call is not reading it")

    async def _take_channel(self) -> None:
        while True:
            channel = await self.peer.channels.get()
            if channel.label == CHANNEL_LABEL and self._channel is None:
                self._channel = EventChannel(channel)
                channel.on("message", self._on_message)
                channel.on("close", lambda: self._inbound.put_nowait(None))
                early, self._early = self._early, []
                for event in early:
                    self._channel.send(event)

    def _on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes) or len(message) > MAX_PAGE_MESSAGE_CHARS:
            self._refused += 1
            if self._refused == 1:  # once a call: a flooding page must not flood the log
                log.warning("softphone message refused", size=len(message))
            return
        if self._inbound.qsize() < MAX_QUEUED_FRAMES:
            self._inbound.put_nowait(message)

    async def receive(self) -> Frame | None:
        if self.peer.closed.is_set():
            return None
        frame = await self._inbound.get()
        if frame is None:
            self._inbound.put_nowait(None)  # every later read sees the end too
        return frame

    # --- outbound ---------------------------------------------------------------------

    async def send(self, frame: Frame) -> None:
        if isinstance(frame, bytes):
            self._track.push(frame)
            return
        message = json.loads(frame)
        kind = message.get("type")
        if kind == "mark":
            self._marks.append((self._track.pushed_bytes, message["name"]))
            self._echo_marks()
        elif kind == "clear":
            self._track.clear()  # nothing is queued now: every pending mark is echoed
            self._echo_marks()
        else:
            self.send_event(message)  # hang-up: tell the page

    def _echo_marks(self) -> None:
        handed = self._track.handed_bytes
        while self._marks and self._marks[0][0] <= handed:
            _, name = self._marks.popleft()
            self._inbound.put_nowait(json.dumps({"type": "mark", "name": name}))

    def send_event(self, message: dict[str, Any]) -> None:
        """One event to the page (kept until its channel opens; a flood is dropped)."""
        if self._channel is not None:
            self._channel.send(message)
        elif len(self._early) < MAX_EARLY_EVENTS:
            self._early.append(message)

    async def close(self) -> None:
        await self.peer.close()
