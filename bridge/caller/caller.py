"""The simulated caller: speaks a script into a bridge at real-time pace, as a carrier would
deliver it, plays the agent's audio back on a simulated carrier clock, and reports each turn:
what was said, what the agent answered (transcribed) and how long the answer took.

Frames go out every 20 ms on absolute deadlines, silence between utterances, as real carriers
send. Turn latency is measured from the last frame of the caller's speech to the arrival of
the first agent frame that is louder than line noise. A :class:`SpeakOver` step talks at a
chosen moment while the agent is talking and keeps what the caller's ear heard of the agent
from then on, so turn-taking (backchannels, interruptions) can be judged from the caller's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bridge.audio import StreamResampler, WireDecoder, WireEncoder
from bridge.audio.level import audible_span, is_speech
from bridge.caller.playback import Playback
from bridge.caller.wires import CallerWire
from bridge.carriers.base import Frame

REPLY_QUIET_S = 1.2  # an agent reply is over once nothing new has played for this long


@dataclass(frozen=True)
class Say:
    text: str = ""
    pcm: bytes | None = None  # 16-bit PCM at the wire's rate (from a WAV file), else synthesized
    barge_in_after_ms: int | None = None  # start talking this long into the agent's reply
    wait: Literal["reply", "start"] = "reply"  # the whole reply, or only until it starts


@dataclass(frozen=True)
class SpeakOver:
    """Talk over the agent's reply (the one a ``Say(wait="start")`` asked for): start
    ``after_ms`` after its first audible frame reached the caller, then listen until the agent
    has been quiet for ``quiet_s``. The report's ``overlap`` says what the ear heard."""

    text: str = ""
    pcm: bytes | None = None  # 16-bit PCM at the wire's rate, else synthesized
    after_ms: int = 1500
    quiet_s: float = 2.5  # a paused reply may take a moment to resume


@dataclass(frozen=True)
class Press:
    digits: str


@dataclass(frozen=True)
class Listen:
    """Wait for the agent to speak (a greeting) and for it to finish."""

    timeout_s: float = 10.0  # how long to wait for it to start
    for_s: float | None = None  # instead: listen for exactly this long (hold music, a bench)


Step = Say | Press | Listen | SpeakOver


@dataclass
class Overlap:
    """The caller's ear during a :class:`SpeakOver`: clock times (seconds) of the reply's first
    audible frame, the caller's first and last audible frames, the carrier clears after the
    onset, and every agent frame played since the reply started as (start, audible)."""

    reply_at: float
    onset_at: float
    speech_end_at: float
    clears: list[float]
    played: list[tuple[float, bool]]
    frame_s: float


@dataclass
class TurnReport:
    step: str
    heard: str = ""
    latency_ms: float | None = None  # last audible caller frame -> first audible agent frame
    # The same gap at the ear: from the end of the caller's voice to when the agent's voice
    # starts to play (the carrier plays in real time what the bridge sends ahead of it), each
    # dated to 5 ms (bridge.audio.level.audible_span) rather than to its 20 ms frame.
    heard_latency_ms: float | None = None
    clear_ms: float | None = None  # barge-in: caller speech onset -> carrier clear arrives
    heard_pcm: bytes = b""
    cut_off: bool = False  # the caller talked over this reply (--barge-in): heard is its start
    # The agent's first audible frame that arrived while this step was still being spoken
    # (between the caller's first and last audible frames), ms after the onset: an answer in a
    # mid-turn pause. None: the agent let the caller finish.
    answered_early_ms: float | None = None
    overlap: Overlap | None = None  # SpeakOver steps


def step_label(step: Step) -> str:
    """How a step is named in reports: ``say 'Hello'``, ``press 42#``, ``listen``."""
    if isinstance(step, Listen):
        return "listen" if step.for_s is None else f"listen {step.for_s:g} s"
    if isinstance(step, Press):
        return f"press {step.digits}"
    if isinstance(step, SpeakOver):
        return f"speak over at {step.after_ms} ms " + (repr(step.text) if step.text else "(audio)")
    return f"say {step.text!r}" if step.text else "say (audio)"


class Synthesizer(Protocol):
    sample_rate: int

    def synthesize_sync(self, text: str) -> bytes: ...


class Transcriber(Protocol):
    async def transcribe(self, pcm16k: bytes) -> Any: ...


class ClientTransport(Protocol):
    async def receive(self) -> Frame | None: ...
    async def send(self, frame: Frame) -> None: ...
    async def close(self) -> None: ...


@dataclass
class _State:
    last_arrival: float = 0.0  # last non-silent agent frame arrived
    arrivals: list[float] = field(default_factory=list)  # non-silent agent frame arrivals
    voice_plays: list[float] = field(default_factory=list)  # when agent voice starts to play
    clears: list[float] = field(default_factory=list)
    hung_up: bool = False


class SimulatedCaller:
    def __init__(
        self,
        wire: CallerWire,
        transport: ClientTransport,
        *,
        tts: Synthesizer,
        stt: Transcriber | None,
        reply_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wire = wire
        self.transport = transport
        self._tts = tts
        self._stt = stt
        self._timeout = reply_timeout_s
        self._clock = clock
        media = wire.media
        self._encoder = WireEncoder(media.encoding, media.sample_rate, media.sample_rate)
        self._decoder = WireDecoder(media.encoding, media.sample_rate, media.sample_rate)
        self._pcm_frame = int(media.sample_rate * 2 * media.frame_ms / 1000)
        self._outbox: deque[bytes] = deque()  # PCM frames of the caller's speech
        self._control: list[Frame] = []  # frames sent at the next tick (digits, echoes)
        self.playback = Playback(frame_s=media.frame_ms / 1000)
        self.state = _State()
        self._tick = asyncio.Event()
        self._speech_sent_at = 0.0
        self._speech_onset_at = 0.0
        self._last_audible_at = 0.0
        self._voice_end_at = 0.0  # the end of the caller's voice, to 5 ms
        self._onset_pending = False
        self._cut: tuple[TurnReport, float] | None = None  # a reply the next step talks over
        self.ended_before: Step | None = None  # the first step the call ended before

    # --- the script ----------------------------------------------------------------------

    async def run(self, steps: list[Step]) -> list[TurnReport]:
        for frame in self.wire.opening():
            await self.transport.send(frame)
        ticker = asyncio.create_task(self._ticker())
        receiver = asyncio.create_task(self._receiver())
        reports: list[TurnReport] = []
        try:
            for step in steps:
                if self.state.hung_up:
                    self.ended_before = step
                    break
                reports.append(await self._run_step(step))
            cut = self._cut_reply(until=self._clock())  # the call ended before the barge-in
            if cut is not None:
                cut.heard = await self._transcribe(cut.heard_pcm)
        finally:
            for task in (ticker, receiver):
                task.cancel()
            for task in (ticker, receiver):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                for frame in self.wire.closing():
                    await self.transport.send(frame)
            with contextlib.suppress(Exception):
                await self.transport.close()
        return reports

    async def _run_step(self, step: Step) -> TurnReport:
        if isinstance(step, Listen) and step.for_s is not None:
            since = self._clock()
            await self._sleep_ticks(step.for_s)
            return TurnReport(step_label(step), heard_pcm=self._heard_since(since))
        if isinstance(step, SpeakOver):
            return await self._speak_over(step)
        report = TurnReport(step_label(step))
        cut: TurnReport | None = None  # the earlier reply this step talked over
        if isinstance(step, Listen):
            since = speech_end = self._clock()
        elif isinstance(step, Press):
            for digit in step.digits:
                self._control.extend(self.wire.dtmf(digit))
            await self._ticks(2)
            since = speech_end = self._clock()
        else:
            # Synthesis takes a while: off the event loop, so the carrier clock keeps ticking.
            pcm = (
                step.pcm
                if step.pcm is not None
                else await asyncio.to_thread(self._synthesize, step.text)
            )
            if step.barge_in_after_ms is not None:
                await self._wait_for_agent_audio(self._speech_sent_at)
                await self._sleep_ticks(step.barge_in_after_ms / 1000)
            clears_before = len(self.state.clears)
            await self._speak(pcm)
            since = self._speech_sent_at
            speech_end = self._last_audible_at
            onset = self._speech_onset_at
            early = [t for t in self.state.arrivals if onset <= t <= speech_end]
            if early and step.barge_in_after_ms is None:
                report.answered_early_ms = (early[0] - onset) * 1000
            if step.barge_in_after_ms is not None:
                clears = self.state.clears[clears_before:]
                onset = self._speech_onset_at  # the first audible frame, not leading silence
                report.clear_ms = (clears[0] - onset) * 1000 if clears else None
                cut = self._cut_reply(until=since)
        limit = step.timeout_s if isinstance(step, Listen) else self._timeout
        start = await self._wait_for_agent_audio(since, limit)
        if start is not None:
            # From the last audible frame: trailing silence in the caller's audio counts.
            report.latency_ms = (start - speech_end) * 1000
            voice = next((t for t in self.state.voice_plays if t >= self._voice_end_at), None)
            if isinstance(step, Say) and voice is not None:
                report.heard_latency_ms = (voice - self._voice_end_at) * 1000
            if isinstance(step, Say) and step.wait == "start":
                # The next step talks over this reply: what was heard of it is known then.
                self._cut = (report, since)
                return report
            await self._wait_for_quiet()
        report.heard_pcm = self._heard_since(since)
        report.heard = await self._transcribe(report.heard_pcm)
        if cut is not None:
            cut.heard = await self._transcribe(cut.heard_pcm)
        return report

    async def _speak_over(self, step: SpeakOver) -> TurnReport:
        report = TurnReport(step_label(step))
        pcm = (
            step.pcm
            if step.pcm is not None
            else await asyncio.to_thread(self._synthesize, step.text)
        )
        cut, self._cut = self._cut, None
        since = cut[1] if cut is not None else self._speech_sent_at
        reply_at = await self._wait_for_agent_audio(since)
        if reply_at is None:
            return report  # no reply to talk over: no overlap to report
        await self._sleep_ticks(reply_at + step.after_ms / 1000 - self._clock())
        clears_before = len(self.state.clears)
        await self._speak(pcm)
        await self._wait_for_quiet(step.quiet_s, since=self._last_audible_at)
        report.overlap = Overlap(
            reply_at=reply_at,
            onset_at=self._speech_onset_at,
            speech_end_at=self._last_audible_at,
            clears=self.state.clears[clears_before:],
            played=[
                (h.started_at, is_speech(h.pcm))
                for h in self.playback.heard
                if h.started_at >= reply_at
            ],
            frame_s=self.wire.media.frame_ms / 1000,
        )
        report.heard_pcm = self._heard_since(self._speech_onset_at)
        if cut is not None:
            cut[0].cut_off = True
            cut[0].heard_pcm = self._heard_since(since)
        return report

    def _cut_reply(self, until: float) -> TurnReport | None:
        """The reply a barge-in talked over, with the audio of it that played before the
        caller finished talking (the carrier's clear dropped the rest)."""
        if self._cut is None:
            return None
        (report, since), self._cut = self._cut, None
        report.cut_off = True
        report.heard_pcm = b"".join(
            h.pcm for h in self.playback.heard if since <= h.started_at < until
        )
        return report

    async def _transcribe(self, pcm: bytes) -> str:
        if self._stt is None or not pcm:
            return ""
        pcm16k = StreamResampler(self.wire.media.sample_rate, 16_000).process(pcm)
        return str((await self._stt.transcribe(pcm16k)).text)

    def _synthesize(self, text: str) -> bytes:
        pcm = self._tts.synthesize_sync(text)
        return StreamResampler(self._tts.sample_rate, self.wire.media.sample_rate).process(pcm)

    async def _speak(self, pcm: bytes) -> None:
        self._onset_pending = True
        for start in range(0, len(pcm), self._pcm_frame):
            frame = pcm[start : start + self._pcm_frame]
            self._outbox.append(frame + bytes(self._pcm_frame - len(frame)))
        # Once hung up, _ticks returns at once (no clock to wait for): checking only the outbox
        # here spun forever without yielding, and froze every other caller in the process.
        while self._outbox and not self.state.hung_up:
            await self._ticks(1)

    async def _ticks(self, count: int) -> None:
        for _ in range(count):
            if self.state.hung_up:
                return  # no carrier clock any more: nothing to wait for
            self._tick.clear()
            await self._tick.wait()

    async def _sleep_ticks(self, seconds: float) -> None:
        deadline = self._clock() + seconds
        while self._clock() < deadline and not self.state.hung_up:  # else _ticks never waits
            await self._ticks(1)

    async def _wait_for_agent_audio(
        self, since: float, timeout_s: float | None = None
    ) -> float | None:
        """When the first non-silent agent frame arrived after ``since`` (None: timed out)."""
        deadline = self._clock() + (self._timeout if timeout_s is None else timeout_s)
        while self._clock() < deadline and not self.state.hung_up:
            later = [t for t in self.state.arrivals if t >= since]
            if later:
                return later[0]
            await self._ticks(1)
        return None

    async def _wait_for_quiet(self, quiet_s: float = REPLY_QUIET_S, since: float = 0.0) -> None:
        """Until nothing new has played for ``quiet_s`` (counted from ``since`` at the
        earliest) and playback is idle."""
        deadline = self._clock() + self._timeout
        while self._clock() < deadline and not self.state.hung_up:
            quiet_for = self._clock() - max(self.state.last_arrival, since)
            if quiet_for >= quiet_s and not self.playback.playing:
                return
            await self._ticks(1)

    def _heard_since(self, since: float) -> bytes:
        return b"".join(h.pcm for h in self.playback.heard if h.started_at >= since)

    # --- the carrier's clock and ears ----------------------------------------------------

    async def _ticker(self) -> None:
        """Every 20 ms on absolute deadlines: one inbound frame, then playback."""
        try:
            await self._tick_forever()
        except Exception:  # the bridge hung up under us: the call is over
            self.state.hung_up = True
        finally:
            self._tick.set()

    async def _tick_forever(self) -> None:
        frame_s = self.wire.media.frame_ms / 1000
        silence = bytes(self._pcm_frame)
        next_at = self._clock()
        while True:
            for frame in self._control:
                await self.transport.send(frame)
            self._control.clear()
            speaking = bool(self._outbox)
            pcm = self._outbox.popleft() if speaking else silence
            for frame in self.wire.audio(self._encoder.encode(pcm)):
                await self.transport.send(frame)
            now = self._clock()
            audible = speaking and is_speech(pcm)
            if audible and self._onset_pending:
                self._onset_pending = False
                self._speech_onset_at = now
            if audible:
                self._last_audible_at = now
            span = audible_span(pcm, self.wire.media.sample_rate) if speaking else None
            if span is not None:
                self._voice_end_at = now + span[1]
            if speaking and not self._outbox:
                self._speech_sent_at = now
            for name in self.playback.advance(now):
                for frame in self.wire.mark_played(name):
                    await self.transport.send(frame)
            self._tick.set()
            next_at += frame_s
            await asyncio.sleep(max(0.0, next_at - self._clock()))

    async def _receiver(self) -> None:
        while (frame := await self.transport.receive()) is not None:
            now = self._clock()
            for kind, value in self.wire.inbound(frame):
                if kind == "media":
                    pcm = self._decoder.decode(value)
                    span = audible_span(pcm, self.wire.media.sample_rate)
                    if span is not None:
                        self.state.voice_plays.append(self.playback.next_start(now) + span[0])
                    if is_speech(pcm):
                        self.state.arrivals.append(now)
                        self.state.last_arrival = now
                    self.playback.media(pcm, now, self._pcm_frame)
                elif kind == "mark":
                    for name in self.playback.mark(value, now):
                        self._control.extend(self.wire.mark_played(name))
                elif kind == "clear":
                    self.state.clears.append(now)
                    self._control.extend(self.wire.cleared(self.playback.clear()))
                elif kind == "hangup":
                    self.state.hung_up = True
        self.state.hung_up = True
        self._tick.set()  # wake any step waiting on the clock
