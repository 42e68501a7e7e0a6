"""Transcription starts during the pause that may end a turn, and is reused when it does."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from bridge.config import Settings
from bridge.engine import commands as cmd
from bridge.engine import events as ev
from bridge.engine.config import InputTranscription, ServerVad, SessionConfig
from bridge.engine.session import LocalConversation
from bridge.pipeline.engines import Engines
from bridge.pipeline.llm import ChatLLM
from bridge.pipeline.stt import SpeechToText, Transcript
from bridge.pipeline.stt_batch import BatchedSpeechToText
from bridge.testing.speech import silence_pcm, trimmed, word_error_rate

pytestmark = pytest.mark.slow
RATE = 24_000
CHUNK = RATE * 2 // 50  # 20 ms


class CountingSTT:
    """The real model, counting how much audio it was asked to transcribe."""

    def __init__(self, stt: SpeechToText | BatchedSpeechToText, timeline: list[str]) -> None:
        self._stt = stt
        self.requests: list[float] = []  # seconds of audio per request
        self.early: list[bool] = []  # whether each was an early one
        self._timeline = timeline

    async def transcribe(self, pcm16k: bytes, **options: Any) -> Transcript:
        self.requests.append(len(pcm16k) / 32_000)
        self.early.append(bool(options.get("early")))
        self._timeline.append("transcribe")
        return await self._stt.transcribe(pcm16k, **options)

    def close(self) -> None:
        pass


async def transcribe_turns(audio: bytes, engines: Engines, timeline: list[str]) -> list[str]:
    done: list[str] = []
    finished = asyncio.Event()

    def emit(event: ev.EngineEvent) -> None:
        if isinstance(event, ev.InputAudioBufferSpeechStopped):
            timeline.append("speech stopped")
        if isinstance(event, ev.InputAudioTranscriptionCompleted):
            done.append(event.transcript)
            finished.set()

    config = dataclasses.replace(
        SessionConfig(),
        input_transcription=InputTranscription("whisper-1"),
        turn_detection=ServerVad(create_response=False),
    )
    session = LocalConversation(
        engines=engines, settings=Settings().conversation, emit=emit, config=config
    )
    session.start()
    for offset in range(0, len(audio), CHUNK):
        await session.handle(cmd.AppendAudio(audio[offset : offset + CHUNK]))
    await finished.wait()
    await session.close()
    return done


@dataclasses.dataclass
class Setup:
    stt: CountingSTT
    engines: Engines
    timeline: list[str]


@pytest.fixture
def setup(stt: SpeechToText, piper: Any, silero: Any) -> Setup:
    timeline: list[str] = []
    counting = CountingSTT(stt, timeline)
    llm = ChatLLM(base_url="http://127.0.0.1:9/v1", api_key="", model="m", timeout_s=1)
    engines = Engines(vad=silero, stt=counting, tts=piper, llm=llm)  # type: ignore[arg-type]
    return Setup(counting, engines, timeline)


async def test_a_turn_is_transcribed_once_starting_in_its_closing_silence(
    speak: Any, setup: Setup
) -> None:
    audio = speak("When are you open on Saturday?", RATE) + silence_pcm(1000, RATE)
    (transcript,) = await transcribe_turns(audio, setup.engines, setup.timeline)
    assert word_error_rate("When are you open on Saturday?", transcript) <= 0.2
    # Begun before the turn ended, and that one job was the transcription.
    assert setup.timeline == ["transcribe", "speech stopped"]


async def test_a_pause_inside_the_turn_discards_the_early_transcription(
    speak: Any, setup: Setup
) -> None:
    stt = setup.stt
    first, rest = "I would like to book a table", "for four people tonight."
    # A 350 ms breath between the halves (Piper's own edge silence trimmed): not a turn end.
    audio = trimmed(speak(first, RATE)) + silence_pcm(350, RATE) + trimmed(speak(rest, RATE))
    audio += silence_pcm(1000, RATE)
    (transcript,) = await transcribe_turns(audio, setup.engines, setup.timeline)
    assert word_error_rate(f"{first} {rest}", transcript) <= 0.2  # one turn, both halves
    assert len(stt.requests) == 2  # the pause's guess, then the whole turn
    assert stt.requests[1] > stt.requests[0] + 1.0


async def test_with_batching_the_early_job_is_marked_early_and_the_turn_is_the_same(
    speak: Any, stt: SpeechToText, piper: Any, silero: Any
) -> None:
    batched = BatchedSpeechToText(stt)
    timeline: list[str] = []
    counting = CountingSTT(batched, timeline)
    llm = ChatLLM(base_url="http://127.0.0.1:9/v1", api_key="", model="m", timeout_s=1)
    engines = Engines(vad=silero, stt=counting, tts=piper, llm=llm)  # type: ignore[arg-type]
    first, rest = "I would like to book a table", "for four people tonight."
    audio = trimmed(speak(first, RATE)) + silence_pcm(350, RATE) + trimmed(speak(rest, RATE))
    audio += silence_pcm(1000, RATE)
    try:
        (transcript,) = await transcribe_turns(audio, engines, timeline)
    finally:
        batched.stop()  # the shared model stays open
    assert word_error_rate(f"{first} {rest}", transcript) <= 0.2
    # The pause's guess and the turn's own early job are early; nothing else was asked.
    assert counting.early == [True, True]
