"""A WebRTC client for tests, on aiortc: it acts like a browser talking to ``/v1/realtime``.

It sends audio from a paced track (PCM16 mono 24 kHz pushed in), records what it receives
(at ``rate``, 48 kHz by default) with arrival times, creates the ``oai-events`` data channel
and collects the events on it. The offer is gathered before it is posted, as browsers send it;
``strip`` removes the candidate lines, as a browser that does not wait for gathering sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from bridge.webrtc.compat import take_over_receiver
from bridge.webrtc.inbound import consume
from bridge.webrtc.outbound import PacedAudioTrack
from bridge.webrtc.sdp import sent_audio_codec, strip_candidates


class WebRTCClient:
    def __init__(self, *, rate: int = 48_000, at_arrival: bool = False) -> None:
        """``at_arrival``: run the bridge's own media path both ways, as the phone bench's
        callers take their carrier's frames: take each packet as it arrives and encode the
        microphone on the loop (by default aiortc's, with its four-packet jitter buffer and its
        encoder on a worker thread)."""
        self.pc = RTCPeerConnection()  # no ICE servers: loopback only
        self.mic = PacedAudioTrack()
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.all_events: list[dict[str, Any]] = []
        self.rate = rate
        self._at_arrival = at_arrival
        self.received: list[tuple[float, bytes]] = []  # (arrival, mono PCM16 at ``rate``)
        self.arrived = asyncio.Event()  # set on every received frame
        self._readers: set[asyncio.Task[None]] = set()
        self.channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)

    def _on_message(self, message: str | bytes) -> None:
        event = json.loads(message)
        self.all_events.append(event)
        self.events.put_nowait(event)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            task = asyncio.create_task(self._record(track))
            self._readers.add(task)
            task.add_done_callback(self._readers.discard)

    async def _record(self, track: MediaStreamTrack) -> None:
        async def keep(audio: bytes) -> None:
            self.received.append((time.monotonic(), audio))
            self.arrived.set()

        await consume(track, self.rate, keep)

    async def wait_audio(self, loud_ms: float, since: float = 0.0) -> None:
        """Return once ``loud_ms`` of loud audio has arrived after ``since``."""
        while self.loud_since(since) < loud_ms:
            self.arrived.clear()
            await self.arrived.wait()

    async def offer(self, *, strip: bool = False) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())  # waits for gathering
        sdp = self.pc.localDescription.sdp
        return strip_candidates(sdp) if strip else sdp

    async def connect(self, post: Callable[[str], Awaitable[str]], *, strip: bool = False) -> None:
        """Post the offer through ``post`` (which returns the answer) and wait for the channel."""
        answer = await post(await self.offer(strip=strip))
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        if self._at_arrival:
            for receiver in self.pc.getReceivers():
                if not take_over_receiver(receiver):
                    raise RuntimeError("the receiver started before its receive path was set")
            if (codec := sent_audio_codec(answer)) is not None:
                self.mic.encode_as(codec)
        opened = asyncio.Event()
        if self.channel.readyState == "open":
            opened.set()
        self.channel.on("open", opened.set)
        async with asyncio.timeout(10):
            await opened.wait()

    def send(self, event: dict[str, Any]) -> None:
        self.channel.send(json.dumps(event))

    def say(self, pcm: bytes) -> None:
        """Speak ``pcm`` (mono PCM16 at 24 kHz) into the call, in real time."""
        self.mic.push(pcm)

    async def next_event(self, kind: str, within: float = 20.0) -> dict[str, Any]:
        """Wait for the next event of type ``kind`` (earlier events of other types pass)."""
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                if event["type"] == kind:
                    return event

    async def wait_received_until(self, moment: float) -> None:
        """Return once audio that arrived at or after ``moment`` (monotonic) is recorded."""
        while not self.received or self.received[-1][0] < moment:
            self.arrived.clear()
            await self.arrived.wait()

    def audio_since(self, start: float) -> bytes:
        return b"".join(pcm for at, pcm in self.received if at >= start)

    def loud_since(self, start: float, threshold: int = 300) -> float:
        """Milliseconds of received audio after ``start`` in frames louder than ``threshold``."""
        loud = 0.0
        for at, pcm in self.received:
            samples = np.frombuffer(pcm, dtype="<i2")
            if at >= start and len(samples) and np.abs(samples).max() > threshold:
                loud += len(samples) * 1000 / self.rate
        return loud

    async def close(self) -> None:
        self.mic.stop()
        with contextlib.suppress(Exception):
            await self.pc.close()
        for task in list(self._readers):
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
