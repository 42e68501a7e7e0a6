"""A softphone call's WebRTC peer as a call :class:`~bridge.calls.call.Transport`.

The call adapter reads frames and writes frames; this transport makes a browser peer look like
that. Inbound: the caller's audio (48 kHz, mixed to mono PCM16), the page's data-channel
messages, and the echoes of marks. Outbound: audio goes to a paced outbound track whose clock
is aiortc pulling a 20 ms frame at a time; a mark is echoed once the track has handed out every
byte queued before it, and a clear drops the track's queue and echoes every mark still pending
(a carrier reports marks of cleared audio as played too). So "what the caller heard", which
barge-in truncates the reply to, is what really left for the peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from bridge.audio.format import AudioFormat
from bridge.carriers.base import Frame
from bridge.config import Settings
from bridge.logging import get_logger
from bridge.softphone.track import InboundAudio, PacedTrack

log = get_logger("bridge.softphone")

MEDIA = AudioFormat("pcm16", 48_000)  # Opus's rate: no resampling on the media path
CONNECT_TIMEOUT_S = 15.0  # a peer that never completes ICE is closed after this
MAX_PAGE_MESSAGE_CHARS = 4096  # the page sends digits and hang-ups, nothing bigger
MAX_CHANNEL_MESSAGE_BYTES = 262_144  # aiortc's SCTP limit: send() raises past it
MAX_QUEUED_FRAMES = 500  # inbound frames (10 s of audio) before audio is dropped
CHANNEL_LABEL = "softphone"


class OfferRejected(ValueError):
    """An SDP offer the bridge cannot answer (not SDP, or no audio to talk over)."""


def check_offer(raw: bytes) -> str:
    try:
        sdp = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OfferRejected("the offer is not UTF-8 text") from None
    if not sdp.startswith("v=0"):
        raise OfferRejected("the offer is not SDP (it must start with v=0)")
    if "\nm=audio " not in sdp.replace("\r\n", "\n"):
        raise OfferRejected("the offer has no audio (m=audio) section")
    return sdp


class SoftphoneTransport:
    def __init__(self, pc: RTCPeerConnection, track: PacedTrack) -> None:
        self.media = MEDIA
        self._pc = pc
        self._track = track
        self._inbound: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._marks: deque[tuple[int, str]] = deque()  # (bytes queued before it, name)
        self._channel: Any = None
        self._connected = asyncio.Event()
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        track.on_progress = self._echo_marks
        pc.on("track", self._on_track)
        pc.on("datachannel", self._on_datachannel)
        pc.on("connectionstatechange", self._on_state)

    # --- setting up -------------------------------------------------------------------

    @staticmethod
    def ice_servers_for_page(settings: Settings) -> list[dict[str, Any]]:
        """ICE servers the page's peer uses: none; both ends are host candidates."""
        return []

    @classmethod
    async def answer(cls, raw_offer: bytes, settings: Settings) -> tuple[SoftphoneTransport, str]:
        """A transport for this offer and the answer SDP; raises :class:`OfferRejected`."""
        offer = check_offer(raw_offer)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transport = cls(pc, PacedTrack(MEDIA.sample_rate))
        try:
            pc.addTrack(transport._track)
            try:
                await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            except ValueError as exc:  # aiortc's parse errors and unsupported offers
                raise OfferRejected(str(exc) or "aiortc cannot use it") from None
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:
            await transport.close()
            raise
        return transport, pc.localDescription.sdp

    async def connected(self, timeout_s: float = CONNECT_TIMEOUT_S) -> bool:
        """Wait for ICE and DTLS to complete; False (and closed) if the peer never does."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._connected.wait()
        except TimeoutError:
            await self.close()
            return False
        return not self._closed

    def _on_state(self) -> None:
        state = self._pc.connectionState
        if state == "connected":
            self._connected.set()
        elif state in ("failed", "closed"):
            self._inbound.put_nowait(None)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._read_audio(track))

    def _on_datachannel(self, channel: Any) -> None:
        if self._channel is not None or channel.label != CHANNEL_LABEL:
            return
        self._channel = channel
        channel.on("message", self._on_message)
        channel.on("close", lambda: self._inbound.put_nowait(None))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- inbound ----------------------------------------------------------------------

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        """Consume the caller's track always (aiortc's buffers grow otherwise)."""
        dropped = 0
        audio = InboundAudio(MEDIA.sample_rate)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, AudioFrame):
                continue
            if self._inbound.qsize() >= MAX_QUEUED_FRAMES:
                dropped += 1
                if dropped == 1:
                    log.warning("softphone audio dropped: the call is not reading")
                continue
            self._inbound.put_nowait(audio.convert(frame))

    def _on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes) or len(message) > MAX_PAGE_MESSAGE_CHARS:
            log.warning("softphone message refused", size=len(message))
            return
        if self._inbound.qsize() < MAX_QUEUED_FRAMES:
            self._inbound.put_nowait(message)

    async def receive(self) -> Frame | None:
        if self._closed:
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
        kind = json.loads(frame).get("type")
        if kind == "mark":
            self._marks.append((self._track.queued_bytes, json.loads(frame)["name"]))
            self._echo_marks(self._track.handed_bytes)
        elif kind == "clear":
            self._track.clear()  # handed == queued now: every pending mark is echoed
        else:
            self.send_event(frame)  # hang-up: tell the page

    def _echo_marks(self, handed: int) -> None:
        while self._marks and self._marks[0][0] <= handed:
            _, name = self._marks.popleft()
            self._inbound.put_nowait(json.dumps({"type": "mark", "name": name}))

    def send_event(self, message: str) -> None:
        """One JSON message to the page; dropped when the channel is not open (yet)."""
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return
        if len(message.encode()) > MAX_CHANNEL_MESSAGE_BYTES:
            log.warning("softphone event too big for the data channel", size=len(message))
            return
        channel.send(message)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._inbound.put_nowait(None)
        self._track.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._pc.close()
