"""A real aiortc client against a bridge :class:`Peer` on loopback: audio both ways, the data
channel, the connect watchdog, and nothing left behind after close."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from bridge.testing.webrtc_client import WebRTCClient
from bridge.webrtc.codec import InlineDecoding, OpusPacketEncoder
from bridge.webrtc.inbound import consume
from bridge.webrtc.jitter import AudioJitterBuffer
from bridge.webrtc.peer import Peer, PeerRegistry, PeerSettings


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("aioice.ice.get_host_addresses", lambda **_: ["127.0.0.1"])


def tone(ms: int, rate: int = 24_000, amplitude: int = 8000) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (np.sin(2 * np.pi * 440 * t) * amplitude).astype("<i2").tobytes()


@pytest.mark.slow
@pytest.mark.parametrize("strip", [False, True])
async def test_audio_flows_both_ways_and_close_leaves_nothing(strip: bool) -> None:
    registry = PeerRegistry()
    peer = Peer(PeerSettings(connect_timeout_s=10), registry)
    client = WebRTCClient()
    heard = bytearray()
    enough = asyncio.Event()

    async def deliver(pcm: bytes) -> None:
        heard.extend(pcm)
        if len(heard) >= 16_000 * 2 * 0.3:
            enough.set()

    try:
        await client.connect(peer.answer, strip=strip)
        channel = await asyncio.wait_for(peer.channels.get(), 5)
        assert channel.label == "oai-events"
        track = await asyncio.wait_for(peer.remote_audio, 5)
        receiver = peer.pc.getReceivers()[0]
        # The bridge's own receive path, and Opus encoded by the track itself.
        assert isinstance(receiver._RTCRtpReceiver__jitter_buffer, AudioJitterBuffer)
        decoding = receiver._RTCRtpReceiver__decoder_queue
        assert isinstance(decoding, InlineDecoding)
        assert isinstance(peer.track._encoder, OpusPacketEncoder)
        peer.spawn(consume(track, 16_000, deliver))
        start = asyncio.get_running_loop().time()
        peer.track.push(tone(300))
        client.say(tone(300, amplitude=6000))
        async with asyncio.timeout(5):
            await client.wait_audio(200)
            await enough.wait()
        assert peer.track.sent_ms == pytest.approx(300, abs=20)
        assert np.abs(np.frombuffer(bytes(heard), dtype="<i2")).max() > 1000
        assert asyncio.get_running_loop().time() - start < 3
        assert decoding.failures == 0
    finally:
        await client.close()
        await peer.close()
    assert len(registry) == 0
    assert not peer.tasks


async def test_a_peer_that_never_connects_is_closed_by_the_watchdog() -> None:
    registry = PeerRegistry()
    peer = Peer(PeerSettings(connect_timeout_s=0.3), registry)
    client = WebRTCClient()
    closed: list[bool] = []
    peer.on_close.append(lambda: closed.append(True))
    try:
        await peer.answer(await client.offer(strip=True))  # the client never takes the answer
        async with asyncio.timeout(5):
            await peer.ended.wait()
    finally:
        await client.close()
        await peer.close()
    assert closed == [True]
    assert len(registry) == 0
    assert not peer.tasks
    assert peer.pc.connectionState == "closed"
