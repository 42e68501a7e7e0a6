"""The benchmark's WebRTC caller: one ``/v1/realtime`` call over WebRTC, as a browser makes it.

It posts a gathered offer to ``POST /v1/realtime/calls``, speaks each question into its paced
microphone track and measures the turn gap where a browser would hear it: from the caller's
last audible frame (known from the pacing clock: frame *k* of what was pushed to an idle track
leaves 20 ms × *k* later) to the first audible frame received, after aiortc's jitter buffer.
Barge-in is measured from the caller's first audible frame over a reply to the
``output_audio_buffer.cleared`` event. Reports have the simulated caller's shape, so the
bench sums both transports the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import httpx

from bridge.audio import StreamResampler
from bridge.audio.level import is_speech
from bridge.caller.caller import TurnReport
from bridge.testing.webrtc_client import WebRTCClient

RATE = 24_000  # what the microphone track takes
# The caller's receive jitter buffer, in packets: one (20 ms), as the bridge's own. aiortc's
# default of four would add 60 ms that a browser's adaptive buffer does not on a clean network.
JITTER_PREFETCH = 1


def _audible_span(pcm: bytes, rate: int = RATE) -> tuple[float, float] | None:
    """Seconds from the start of ``pcm`` to its first and past its last audible 20 ms frame."""
    frame = rate // 50 * 2  # bytes
    loud = [i for i in range(len(pcm) // frame) if is_speech(pcm[i * frame : (i + 1) * frame])]
    return (loud[0] * 0.02, (loud[-1] + 1) * 0.02) if loud else None


def _first_loud_after(client: WebRTCClient, moment: float) -> float | None:
    for at, pcm in client.received:
        if at >= moment and is_speech(pcm):
            return at
    return None


async def _heard_reply(client: WebRTCClient, after: float, timeout_s: float) -> float | None:
    """When the first audible frame after ``after`` arrived, or None within ``timeout_s``."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while (first := _first_loud_after(client, after)) is None:
                client.arrived.clear()
                await client.arrived.wait()
            return first
    return None


async def _reply_finished(client: WebRTCClient, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await client.next_event("output_audio_buffer.stopped", within=timeout_s)


def _heard_8k(client: WebRTCClient, since: float) -> bytes:
    pcm = b"".join(p for at, p in client.received if at >= since and is_speech(p))
    return StreamResampler(client.rate, 8_000).process(pcm)


Speak = Callable[[str], bytes]


def _say(client: WebRTCClient, pcm: bytes) -> tuple[float, float]:
    """Speak ``pcm``; return (onset, end) of its audible part on the monotonic clock."""
    span = _audible_span(pcm) or (0.0, len(pcm) / 2 / RATE)
    start = time.monotonic() + client.mic.queued_ms / 1000  # after what is still queued
    client.say(pcm)
    return start + span[0], start + span[1]


async def webrtc_call(
    url: str,
    questions: list[str],
    speak: Speak,
    *,
    barge_in: bool,
    media_only_s: float,
    reply_timeout_s: float = 15.0,
) -> tuple[list[TurnReport], int]:
    """One call; ``speak(text)`` gives 16-bit PCM at 24 kHz."""
    client = WebRTCClient(jitter_prefetch=JITTER_PREFETCH)
    reports: list[TurnReport] = []
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:

            async def post(offer: str) -> str:
                reply = await http.post(
                    "/v1/realtime/calls",
                    content=offer,
                    headers={"Content-Type": "application/sdp"},
                )
                reply.raise_for_status()
                return reply.text

            await client.connect(post)
            if media_only_s:
                await asyncio.sleep(media_only_s)  # silence both ways: the media path alone
                return [TurnReport("listen")], 0
            for question in questions:
                report = TurnReport(f"say {question!r}")
                _, end = _say(client, speak(question))
                first = await _heard_reply(client, end, reply_timeout_s)
                if first is not None:
                    report.latency_ms = (first - end) * 1000
                    await _reply_finished(client, reply_timeout_s)
                    report.heard_pcm = _heard_8k(client, end)
                reports.append(report)
            if barge_in:
                reports.append(await _barge_in(client, speak, reply_timeout_s))
    finally:
        await client.close()
    return reports, 0


async def _barge_in(client: WebRTCClient, speak: Speak, timeout_s: float) -> TurnReport:
    report = TurnReport("say 'Stop, thank you.' over a long story")
    _, end = _say(client, speak("Tell me a long story."))
    first = await _heard_reply(client, end, timeout_s)
    if first is None:
        return report
    await asyncio.sleep(1.5)  # let the story play a while, as the phone bench does
    onset, _ = _say(client, speak("Stop, thank you."))
    with contextlib.suppress(TimeoutError):
        await client.next_event("output_audio_buffer.cleared", within=timeout_s)
        report.clear_ms = (time.monotonic() - onset) * 1000
    return report


def piper_24k(tts: Any) -> Speak:
    """``text -> PCM16 at 24 kHz`` from the bench's shared Piper voice (synthesized once)."""
    cache: dict[str, bytes] = {}

    def synthesize(text: str) -> bytes:
        if text not in cache:
            pcm: bytes = tts.synthesize_sync(text)
            cache[text] = StreamResampler(tts.sample_rate, RATE).process(pcm)
        return cache[text]

    return synthesize
