"""One call's RTP socket on loopback: latching, silence for gaps, the RTP timeout, hold."""

import asyncio
import socket
from collections.abc import Iterator

import pytest
from aiortp.packet import RtpPacket

from bridge.sip.media import SILENCE, RtpTransport


def rtp(seq: int) -> bytes:
    return RtpPacket(0, 0, seq, seq * 160, 1, b"\xff" * 160).serialize()


@pytest.fixture
def peer() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    yield sock
    sock.close()


async def bound(timeout_s: float = 5.0) -> RtpTransport:
    return await RtpTransport.bind("127.0.0.1", range(40000, 40100), ("127.0.0.1", 9), timeout_s)


async def test_it_latches_onto_the_first_real_packets_source_and_ignores_others(
    peer: socket.socket,
) -> None:
    media = await bound()
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert media.port % 2 == 0
        assert 40000 <= media.port < 40100
        stranger.sendto(b"not rtp at all", ("127.0.0.1", media.port))  # never latched onto
        peer.sendto(rtp(1), ("127.0.0.1", media.port))
        assert await media.receive() == rtp(1)
        assert media.remote == peer.getsockname()
        stranger.sendto(rtp(2), ("127.0.0.1", media.port))  # not our peer any more
        peer.sendto(rtp(3), ("127.0.0.1", media.port))
        assert await media.receive() == rtp(3)
        await media.send(rtp(4))
        loop = asyncio.get_running_loop()
        assert await loop.sock_recv(peer, 2048) == rtp(4)  # symmetric: back to the source
    finally:
        stranger.close()
        await media.close()
    assert await media.receive() is None


async def test_a_gap_in_the_peers_packets_becomes_20_ms_silences(peer: socket.socket) -> None:
    media = await bound()
    loop = asyncio.get_running_loop()
    peer.sendto(rtp(1), ("127.0.0.1", media.port))
    assert await media.receive() == rtp(1)
    start = loop.time()
    fills = [await media.receive() for _ in range(10)]
    elapsed = loop.time() - start
    await media.close()
    assert fills == [SILENCE] * 10
    assert 0.1 + 0.1 <= elapsed < 1.0  # after the 100 ms gap, one per 20 ms of absence


async def test_silence_too_long_ends_the_call_unless_it_is_on_hold() -> None:
    media = await bound(timeout_s=0.3)
    media.on_hold = True
    held = asyncio.create_task(drain(media))
    done, _ = await asyncio.wait({held}, timeout=0.6)
    assert not done  # on hold: still waiting, however long
    media.on_hold = False
    assert await held is None
    assert media.timed_out
    await media.close()


async def drain(media: RtpTransport) -> bytes | None:
    while (frame := await media.receive()) == SILENCE:
        pass
    return frame


async def test_a_held_call_that_never_resumes_ends_after_the_hold_timeout() -> None:
    media = await RtpTransport.bind(
        "127.0.0.1", range(40000, 40100), ("127.0.0.1", 9), timeout_s=0.2, hold_timeout_s=0.6
    )
    loop = asyncio.get_running_loop()
    media.on_hold = True
    start = loop.time()
    async with asyncio.timeout(5):
        assert await drain(media) is None  # the port, the call and its place are given back
    assert media.timed_out
    assert loop.time() - start >= 0.6
    await media.close()
    assert media.closed


async def test_resuming_after_a_long_hold_counts_the_quiet_time_afresh() -> None:
    media = await bound(timeout_s=0.3)
    media.on_hold = True
    held = asyncio.create_task(drain(media))
    done, _ = await asyncio.wait({held}, timeout=0.5)  # longer than the RTP timeout
    assert not done
    loop = asyncio.get_running_loop()
    resumed = loop.time()
    media.on_hold = False  # resumed: the peer gets a full timeout to send its first packet
    assert await held is None
    assert loop.time() - resumed >= 0.3
    await media.close()
