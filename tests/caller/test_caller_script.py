"""The simulated caller against a scripted AudioSocket peer (no models, no sockets): a call
that ends mid-script names the step it ended before, a reply the caller talks over is reported
with what was heard of it, an answer in the caller's pause is noticed, and talking over a reply
keeps the timeline of what the ear heard."""

from __future__ import annotations

import asyncio
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import pytest

from bridge.caller.caller import Say, SimulatedCaller, SpeakOver, step_label
from bridge.caller.wires import audiosocket_wire
from bridge.carriers.audiosocket import KIND_AUDIO, KIND_HANGUP, encode_frame
from bridge.carriers.base import Frame

RATE = 8000
FRAME = RATE * 2 // 50  # 20 ms of 16-bit PCM


def tone(seconds: float) -> bytes:
    count = int(RATE * seconds)
    return b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / RATE))) for n in range(count)
    )


class LoudTTS:
    """Any text is half a second of tone (loud enough to count as speech)."""

    sample_rate = RATE

    def synthesize_sync(self, text: str) -> bytes:
        return tone(0.5)


@dataclass
class Seconds:
    """Transcribes audio as its duration, in tenths of a second."""

    async def transcribe(self, pcm16k: bytes) -> Any:
        @dataclass
        class Text:
            text: str

        return Text(f"{round(len(pcm16k) / 32000, 1)} s")


@dataclass
class ScriptedPeer:
    """The bridge's side of an AudioSocket call, answering by a script: ``replies[n]`` go out
    when the caller's n-th utterance ends (n counts from 0)."""

    replies: dict[int, list[bytes]]  # utterance -> frames to send when it ends
    greeting: list[bytes] = field(default_factory=list)
    inbox: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    utterances: int = 0
    _loud: bool = False

    def __post_init__(self) -> None:
        for frame in self.greeting:
            self.inbox.put_nowait(frame)

    async def receive(self) -> Frame | None:
        return await self.inbox.get()

    async def send(self, frame: Frame) -> None:
        assert isinstance(frame, bytes)
        if frame[0] != KIND_AUDIO:
            return
        pcm = frame[3:]
        loud = max(abs(s) for (s,) in struct.iter_unpack("<h", pcm)) > 1000
        if self._loud and not loud:
            for reply in self.replies.get(self.utterances, []):
                self.inbox.put_nowait(reply)
            self.utterances += 1
        self._loud = loud

    async def close(self) -> None:
        self.inbox.put_nowait(None)


def audio(pcm: bytes) -> list[bytes]:
    return [encode_frame(KIND_AUDIO, pcm[i : i + FRAME]) for i in range(0, len(pcm), FRAME)]


async def test_a_call_that_ends_mid_script_names_the_step_it_ended_before() -> None:
    # The peer answers the first question, then hangs up.
    peer = ScriptedPeer({0: [*audio(tone(0.3)), encode_frame(KIND_HANGUP)]})
    caller = SimulatedCaller(audiosocket_wire(), peer, tts=LoudTTS(), stt=Seconds())
    steps = [Say("one"), Say("two"), Say("three")]
    reports = await caller.run(steps)
    assert [r.step for r in reports] == ["say 'one'"]
    assert caller.ended_before == Say("two")
    assert step_label(Say("two")) == "say 'two'"


@dataclass
class HangsUpWhileHeard(ScriptedPeer):
    """Hangs up once it has heard ``after`` loud frames of the caller's speech."""

    after: int = 5
    heard: int = 0

    async def send(self, frame: Frame) -> None:
        assert isinstance(frame, bytes)
        pcm = frame[3:]
        if frame[0] == KIND_AUDIO and max(abs(s) for (s,) in struct.iter_unpack("<h", pcm)) > 1000:
            self.heard += 1
            if self.heard == self.after:
                self.inbox.put_nowait(encode_frame(KIND_HANGUP))


@pytest.mark.timeout(20, method="signal")  # the old code spun without yielding: no await ends
async def test_a_hang_up_while_the_caller_is_speaking_ends_the_call() -> None:
    peer = HangsUpWhileHeard({})
    caller = SimulatedCaller(audiosocket_wire(), peer, tts=LoudTTS(), stt=Seconds())
    reports = await caller.run([Say("a long question"), Say("two")])
    assert peer.heard >= 5
    assert caller.state.hung_up
    assert caller.ended_before == Say("two")
    assert len(reports) == 1


async def test_a_reply_cut_by_a_barge_in_reports_what_was_heard_of_it() -> None:
    # A 3 s reply to the first utterance; the caller talks over it 400 ms in.
    peer = ScriptedPeer({0: audio(tone(3.0)), 1: audio(tone(0.3))}, greeting=[])
    caller = SimulatedCaller(audiosocket_wire(), peer, tts=LoudTTS(), stt=Seconds())
    story, interruption = await caller.run(
        [Say("tell me a story", wait="start"), Say("stop", barge_in_after_ms=400)]
    )
    assert story.cut_off
    assert not interruption.cut_off
    assert story.latency_ms is not None
    # Heard: the 400 ms before the caller started, and the 500 ms the caller talked over it.
    heard_s = float(story.heard.removesuffix(" s"))
    assert 0.8 <= heard_s <= 1.2, story.heard


async def test_an_answer_in_the_caller_s_pause_is_reported() -> None:
    # The peer answers as soon as the caller goes quiet: in the 600 ms pause, not after it.
    peer = ScriptedPeer({0: audio(tone(0.3)), 1: audio(tone(0.3))})
    caller = SimulatedCaller(audiosocket_wire(), peer, tts=LoudTTS(), stt=None)
    pause = tone(0.5) + bytes(2 * RATE * 600 // 1000) + tone(0.5)
    (report,) = await caller.run([Say("book a table for, um, four", pcm=pause)])
    assert report.answered_early_ms is not None
    assert 450 <= report.answered_early_ms <= 700, report.answered_early_ms
    assert report.latency_ms is not None  # the answer after the whole utterance


async def test_a_caller_who_waits_is_not_answered_early() -> None:
    peer = ScriptedPeer({0: audio(tone(0.3))})
    caller = SimulatedCaller(audiosocket_wire(), peer, tts=LoudTTS(), stt=None)
    (report,) = await caller.run([Say("what time is it")])
    assert report.answered_early_ms is None
    assert report.latency_ms is not None


async def test_speaking_over_a_reply_keeps_what_the_ear_heard() -> None:
    # A 2 s reply that does not stop (AudioSocket has no clear); the caller says "uh-huh"
    # 400 ms into it.
    peer = ScriptedPeer({0: audio(tone(2.0))})
    caller = SimulatedCaller(audiosocket_wire(), peer, tts=LoudTTS(), stt=None)
    story, over = await caller.run(
        [Say("tell me a story", wait="start"), SpeakOver("uh-huh", after_ms=400, quiet_s=0.3)]
    )
    assert story.cut_off
    assert over.step == "speak over at 400 ms 'uh-huh'"
    overlap = over.overlap
    assert overlap is not None
    assert 0.38 <= overlap.onset_at - overlap.reply_at <= 0.5
    assert overlap.speech_end_at - overlap.onset_at == pytest.approx(0.48, abs=0.03)
    assert overlap.clears == []
    assert sum(loud for _, loud in overlap.played) == 100  # all 2 s of it, frame by frame
    assert overlap.played[0][0] == pytest.approx(overlap.reply_at, abs=0.03)


async def test_a_reply_sent_ahead_is_heard_when_its_first_word_plays() -> None:
    # The reply opens with 60 ms of silence and arrives at once, ahead of real time: its first
    # audible frame arrives with the rest but plays three frames later. The ear's gap runs from
    # the end of the caller's voice, the end of its last audible frame (20 ms after it was sent).
    lead_in = bytes(FRAME * 3)
    peer = ScriptedPeer({0: audio(lead_in + tone(0.3))})
    caller = SimulatedCaller(audiosocket_wire(), peer, tts=LoudTTS(), stt=None)
    (report,) = await caller.run([Say("what time is it")])
    assert report.latency_ms is not None
    assert report.heard_latency_ms is not None
    assert report.heard_latency_ms - report.latency_ms == pytest.approx(60 - 20, abs=5)
