"""The benchmark's WebRTC caller: one ``/v1/realtime`` call over WebRTC, as a browser makes it.

It posts a gathered offer to ``POST /v1/realtime/calls``, speaks each question into its paced
microphone track and measures the turn gap as the phone bench's simulated caller does: from
the moment its last audible frame is handed to the sender (the microphone track reports each
frame it hands out) to the arrival of the first audible frame of the reply, each packet taken
as it arrives (the bridge's own receive path, no jitter buffer: a browser's own, like a phone's,
comes on top of either transport). Barge-in is measured from the caller's first audible frame
over a reply to the ``output_audio_buffer.cleared`` event. The call asks for the turn detection
the phone calls get (``BRIDGE_TURN_*``, ``BRIDGE_VAD_*``: semantic_vad by default, where a
realtime session's own default is server_vad), so the two transports are compared on the same
turn-taking. Reports have the simulated caller's shape, so the bench sums both transports the
same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from bridge.audio import StreamResampler
from bridge.audio.level import audible_span, is_speech
from bridge.caller.caller import TurnReport
from bridge.testing.webrtc_client import WebRTCClient

RATE = 24_000  # what the microphone track takes


def _voice_onset(client: WebRTCClient, moment: float) -> float | None:
    """When the first voice (to 5 ms) arrived after ``moment``."""
    for at, pcm in client.received:
        span = audible_span(pcm, client.rate)
        if at >= moment and span is not None:
            return at + span[0]
    return None


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


async def _voice(speak: Speak, text: str) -> bytes:
    """Synthesize off the loop: the other callers in this process keep talking meanwhile."""
    return await asyncio.to_thread(speak, text)


class Utterance:
    """When the microphone sent the audible frames of what was said (monotonic clock)."""

    def __init__(self, client: WebRTCClient, pcm: bytes) -> None:
        self.audible: list[float] = []
        self.voice_end = 0.0  # the end of the voice, to 5 ms
        self.sent = asyncio.Event()
        self._mic = client.mic
        self._mic.on_frame = self._frame
        self._mic.on_idle = self._done
        client.say(pcm)

    def _frame(self, at: float, pcm: bytes) -> None:
        if is_speech(pcm):
            self.audible.append(at)
        span = audible_span(pcm, RATE)
        if span is not None:
            self.voice_end = at + span[1]

    def _done(self) -> None:
        self._mic.on_frame = self._mic.on_idle = None
        self.sent.set()

    async def ended(self) -> tuple[float, float]:
        """Once all of it was sent: when its last audible frame was, and its voice's end."""
        await self.sent.wait()
        return self.audible[-1], self.voice_end


def phone_turn_detection(env: Mapping[str, str]) -> dict[str, Any]:
    """The phone calls' turn detection under the bridge settings ``env`` (defaults where
    unset), as a GA session's ``audio.input.turn_detection``."""
    from bridge.config import ENV_PREFIX, Settings

    def setting(name: str) -> Any:
        return env.get(f"{ENV_PREFIX}{name.upper()}", Settings.model_fields[name].default)

    if setting("turn_detection") == "semantic_vad":
        return {"type": "semantic_vad", "eagerness": setting("turn_eagerness")}
    return {
        "type": "server_vad",
        "threshold": float(setting("vad_threshold")),
        "prefix_padding_ms": int(setting("vad_prefix_padding_ms")),
        "silence_duration_ms": int(setting("vad_silence_ms")),
    }


async def webrtc_call(
    url: str,
    questions: list[str],
    speak: Speak,
    *,
    barge_in: bool,
    media_only_s: float,
    reply_timeout_s: float = 15.0,
    turn_detection: dict[str, Any] | None = None,
) -> tuple[list[TurnReport], int]:
    """One call; ``speak(text)`` gives 16-bit PCM at 24 kHz. ``turn_detection``: asked for
    with a ``session.update`` before the first question (None: the session's default)."""
    client = WebRTCClient(at_arrival=True)
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
            if turn_detection is not None:
                client.send(
                    {
                        "type": "session.update",
                        "session": {
                            "type": "realtime",
                            "audio": {"input": {"turn_detection": turn_detection}},
                        },
                    }
                )
                await client.next_event("session.updated", within=reply_timeout_s)
            if media_only_s:
                await asyncio.sleep(media_only_s)  # silence both ways: the media path alone
                return [TurnReport("listen")], 0
            for question in questions:
                report = TurnReport(f"say {question!r}")
                end, voice_end = await Utterance(client, await _voice(speak, question)).ended()
                first = await _heard_reply(client, end, reply_timeout_s)
                if first is not None:
                    report.latency_ms = (first - end) * 1000
                    voice = _voice_onset(client, voice_end)
                    if voice is not None:  # paced in real time: a frame plays as it arrives
                        report.heard_latency_ms = (voice - voice_end) * 1000
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
    end, _ = await Utterance(client, await _voice(speak, "Tell me a long story.")).ended()
    first = await _heard_reply(client, end, timeout_s)
    if first is None:
        return report
    await asyncio.sleep(1.5)  # let the story play a while, as the phone bench does
    stop = Utterance(client, await _voice(speak, "Stop, thank you."))
    with contextlib.suppress(TimeoutError):
        await client.next_event("output_audio_buffer.cleared", within=timeout_s)
        if stop.audible:  # the first audible frame has gone out: the barge-in's onset
            report.clear_ms = (time.monotonic() - stop.audible[0]) * 1000
    await stop.sent.wait()
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
