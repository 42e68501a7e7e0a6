"""The fakes themselves: what the engine tests rely on them to do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from bridge.pipeline.llm import Completed, LLMEvent, TextDelta, ToolCall
from bridge.pipeline.vad import SpeechStarted, SpeechStopped, VadParams, VadStream
from bridge.testing.fakes import (
    FakeLLM,
    FakeSTT,
    FakeTTS,
    FakeVad,
    Hold,
    silence,
    speech,
    tool_call_reply,
    until,
)


async def test_the_fake_vad_hears_speech_and_silence_through_the_real_stream() -> None:
    for rate, encoding in [(24_000, "pcm16"), (16_000, "pcm16"), (8_000, "pcm16")]:
        stream = VadStream(FakeVad(), VadParams(silence_duration_ms=500), rate)
        audio = silence(200, rate, encoding) + speech(300, rate, encoding)
        audio += silence(700, rate, encoding)
        events = []
        for offset in range(0, len(audio), rate // 25):  # 20 ms chunks
            events += await stream.process(audio[offset : offset + rate // 25])
        started, stopped = events
        assert isinstance(started, SpeechStarted)
        assert isinstance(stopped, SpeechStopped)
        assert 160 <= started.start_ms <= 224, rate  # a 32 ms window around 200 ms
        assert 480 <= stopped.end_ms <= 544, rate


def test_g711_speech_and_silence_are_one_byte_per_sample() -> None:
    assert len(speech(100, 8_000, "pcmu")) == len(silence(100, 8_000, "pcma")) == 800
    assert len(speech(100)) == 4_800  # pcm16 at 24 kHz


async def test_the_fake_stt_reads_its_queue_then_describes_the_audio() -> None:
    gate = asyncio.Event()
    stt = FakeSTT(["hello"], gate=gate)
    first = asyncio.create_task(stt.transcribe(bytes(3_200)))
    await until(lambda: len(stt.requests) == 1)
    assert not first.done()  # held by the gate
    gate.set()
    assert (await first).text == "hello"
    pcm16k = speech(250, 16_000) + silence(250, 16_000)
    result = await stt.transcribe(pcm16k, language="de")
    assert (result.text, result.language, result.audio_s) == ("speech of 250 ms", "de", 0.5)


async def test_the_fake_tts_speaks_n_ms_per_character_and_caches() -> None:
    tts = FakeTTS(sample_rate=16_000, ms_per_char=5)
    await tts.warm("Hello there.")
    chunks = [pcm async for pcm in tts.stream("Hello there. How are you?", urgent=True)]
    assert [len(c) for c in chunks] == [12 * 5 * 32, 12 * 5 * 32]
    assert tts.synthesized == ["Hello there.", "How are you?"]  # the first from the cache
    assert tts.requests == [("Hello there. How are you?", True)]
    assert chunks[0] == tts.pcm("Hello there.")


async def test_the_fake_llm_streams_its_script_and_records_requests() -> None:
    hold = Hold()
    llm = FakeLLM([[TextDelta("Hi. "), hold, TextDelta("Bye.")], tool_call_reply("f", {"a": 1})])
    messages = [{"role": "user", "content": "hello"}]
    stream = llm.stream(messages, temperature=0.5)
    assert await anext(stream) == TextDelta("Hi. ")

    async def next_event() -> LLMEvent:
        return await anext(stream)

    waiting = asyncio.create_task(next_event())
    await until(hold.reached.is_set)
    hold.release()
    assert await waiting == TextDelta("Bye.")
    assert await anext(stream) == Completed("stop", "Hi. Bye.")  # made up at the end
    events = [event async for event in llm.stream(messages)]
    assert events[-1] == Completed("tool_calls", "", (ToolCall("call_1", "f", '{"a": 1}'),))
    cut = llm.stream(messages)  # the default reply, abandoned after one event
    assert isinstance(cut, AsyncGenerator)
    assert await anext(cut) == TextDelta("You ")
    await cut.aclose()
    assert [(c.user_text, c.finished, c.closed) for c in llm.requests] == [
        ("hello", True, False),
        ("hello", True, False),
        ("hello", False, True),
    ]
    assert llm.requests[0].temperature == 0.5
