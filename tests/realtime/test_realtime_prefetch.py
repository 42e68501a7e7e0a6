"""The reply is asked for during the end-of-turn silence and used when the turn ends."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bridge.config import Settings
from bridge.engine import commands as cmd
from bridge.engine import events as ev
from bridge.engine.config import ServerVad, SessionConfig
from bridge.engine.prefetch import Prefetch
from bridge.engine.responder import LLMRequest
from bridge.engine.session import LocalConversation
from bridge.pipeline.engines import Engines
from bridge.pipeline.llm import ChatLLM, Completed, LLMEvent, TextDelta
from bridge.testing.llm_server import Reply, Rule, ScriptedLLM
from bridge.testing.serve import serve_app
from bridge.testing.speech import silence_pcm, trimmed, word_error_rate

pytestmark = pytest.mark.slow
RATE = 24_000
CHUNK = RATE * 2 // 50  # 20 ms


class Turn:
    """A session fed ``audio`` in real-time-sized chunks, with what happened, in order."""

    def __init__(self) -> None:
        self.timeline: list[str] = []
        self.transcripts: list[str] = []
        self.said: list[str] = []  # the user's words in each LLM request, as it arrived
        self.done = asyncio.Event()

    def echo(self, messages: list[dict[str, Any]]) -> Reply:
        self.timeline.append("llm request")
        self.said.append(messages[-1]["content"])
        return Reply(f"You said: {messages[-1]['content']}")

    def emit(self, event: ev.EngineEvent) -> None:
        if isinstance(event, ev.InputAudioBufferSpeechStopped):
            self.timeline.append("speech stopped")
        elif isinstance(event, ev.ResponseCreated):
            self.timeline.append("response")
        elif isinstance(event, ev.ResponseAudioTranscriptDone):
            self.transcripts.append(event.transcript)
        elif isinstance(event, ev.ResponseDone):
            self.done.set()


async def run_turn(audio: bytes, engines: Any, settings: Settings) -> Turn:
    """Play ``audio`` into a session in real time, as a caller would, and wait for the reply.
    The turn ends after a full second of silence: time enough, on any machine, for the early
    transcript and the request it starts."""
    turn = Turn()
    llm = ScriptedLLM(rules=[Rule(r".", turn.echo)])
    async with serve_app(llm.app()) as url:
        chat = ChatLLM(base_url=f"{url}/v1", api_key="", model="m", timeout_s=5)
        vad, stt, tts = engines
        session = LocalConversation(
            engines=Engines(vad=vad, stt=stt, tts=tts, llm=chat),
            settings=settings.conversation,
            emit=turn.emit,
            config=dataclasses.replace(
                SessionConfig(), turn_detection=ServerVad(silence_duration_ms=1000)
            ),
        )
        session.start()
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index, offset in enumerate(range(0, len(audio), CHUNK)):
            await asyncio.sleep(max(0.0, start + index * 0.02 - loop.time()))  # a live caller
            await session.handle(cmd.AppendAudio(audio[offset : offset + CHUNK]))
        await asyncio.wait_for(turn.done.wait(), 20)
        await session.close()
        await chat.close()
    return turn


@pytest.fixture
def engines(silero: Any, stt: Any, piper: Any) -> tuple[Any, Any, Any]:
    return silero, stt, piper


async def test_the_reply_is_asked_for_before_the_turn_ends_and_used(
    speak: Any, engines: Any
) -> None:
    question = "When are you open on Saturday?"
    turn = await run_turn(speak(question, RATE) + silence_pcm(2000, RATE), engines, Settings())
    assert turn.timeline == ["llm request", "speech stopped", "response"]
    (said,) = turn.said
    (reply,) = turn.transcripts
    assert word_error_rate(question, said) <= 0.2
    assert reply == f"You said: {said}"


async def test_a_pause_inside_the_turn_drops_the_early_reply(speak: Any, engines: Any) -> None:
    first, rest = "I would like to book a table", "for four people tonight."
    # A 350 ms breath: its early transcript may get a reply asked for, which must not be used.
    audio = trimmed(speak(first, RATE)) + silence_pcm(350, RATE) + trimmed(speak(rest, RATE))
    turn = await run_turn(audio + silence_pcm(2000, RATE), engines, Settings())
    assert turn.timeline.count("response") == 1
    assert turn.timeline.index("speech stopped") < turn.timeline.index("response")
    whole = turn.said[-1]
    assert word_error_rate(f"{first} {rest}", whole) <= 0.2
    assert turn.transcripts == [f"You said: {whole}"]


async def test_without_prefetch_the_reply_is_asked_for_after_the_turn(
    speak: Any, engines: Any
) -> None:
    audio = speak("When are you open on Saturday?", RATE) + silence_pcm(2000, RATE)
    turn = await run_turn(audio, engines, Settings(prefetch_reply=False))
    assert turn.timeline == ["speech stopped", "response", "llm request"]


class OneReply:
    """An LLM stand-in that streams one clause at once (the prefetch's lifecycle is the test)."""

    async def stream(self, messages: Any, **options: Any) -> AsyncIterator[LLMEvent]:
        yield TextDelta("Hello there, my friend. ")
        yield Completed("stop", "Hello there, my friend.")


async def test_a_prefetch_cancelled_at_once_leaves_nothing_behind() -> None:
    """Cancelled the moment its first clause's synthesis was set off: no coroutine is left
    unawaited (pytest fails the test on one) and the synthesis never starts."""
    warmed: list[str] = []

    async def warm(clause: str) -> None:
        warmed.append(clause)

    request = LLMRequest(messages=[], tools=[], tool_choice=None, temperature=0.7, max_tokens=None)
    prefetch = Prefetch(request, OneReply(), warm)  # type: ignore[arg-type]
    events = prefetch.events()
    assert isinstance(await anext(events), TextDelta)  # its synthesis task now exists
    prefetch.cancel()
    await events.aclose()
    await asyncio.sleep(0)  # let the cancellations run
    gc.collect()
    assert warmed == []
