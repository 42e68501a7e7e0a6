"""Turns on fake engines: turn end, barge-in, prefetched replies (milliseconds, no models)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from engine_harness import (
    PCMU,
    AudioPart,
    Driver,
    MessageItem,
    ServerVad,
    Start,
    config,
    drivers,
    ev,
)

from bridge.config import Settings
from bridge.pipeline.llm import Completed, TextDelta
from bridge.testing.fakes import Fakes, FakeSTT, Hold, silence, speech, until

BYTES_PER_MS = 48  # pcm16 at 24 kHz, the default wire format


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def start(fakes: Fakes) -> AsyncIterator[Start]:
    async with drivers(fakes) as start:
        yield start


def in_order(driver: Driver, *kinds: type[ev.EngineEvent]) -> bool:
    """``kinds`` were emitted in this order (other events may come between)."""
    seen = iter(type(event) for event in driver.events)
    return all(kind in seen for kind in kinds)


def assistant_item(driver: Driver, response_index: int = 0) -> MessageItem:
    item = driver.of(ev.ResponseDone)[response_index].response.output[0]
    assert isinstance(item, MessageItem)
    return item


def audio_part(item: MessageItem) -> AudioPart:
    part = item.content[0]
    assert isinstance(part, AudioPart)
    return part


@pytest.mark.parametrize(
    ("fmt_config", "rate", "encoding"),
    [
        ({}, 24_000, "pcm16"),
        ({"input_audio_format": PCMU, "output_audio_format": PCMU}, 8_000, "pcmu"),
    ],
    ids=["pcm16", "pcmu"],
)
async def test_speech_then_silence_ends_the_turn_and_the_reply_answers_it(
    start: Start, fakes: Fakes, fmt_config: dict[str, object], rate: int, encoding: str
) -> None:
    fakes.stt.transcripts.append("When are you open on Saturday?")
    driver = start(config(**fmt_config))
    await driver.feed(speech(400, rate, encoding) + silence(700, rate, encoding), chunk_ms=20)
    done = await driver.wait_for(ev.ResponseDone)

    assert in_order(
        driver,
        ev.InputAudioBufferSpeechStarted,
        ev.InputAudioBufferSpeechStopped,
        ev.InputAudioBufferCommitted,
        ev.InputAudioTranscriptionCompleted,
        ev.ResponseCreated,
        ev.ResponseAudioTranscriptDelta,
        ev.ResponseAudioDelta,
        ev.ResponseAudioDone,
        ev.ResponseDone,
    )
    (started,) = driver.of(ev.InputAudioBufferSpeechStarted)
    (stopped,) = driver.of(ev.InputAudioBufferSpeechStopped)
    (committed,) = driver.of(ev.InputAudioBufferCommitted)
    assert started.item_id == stopped.item_id == committed.item_id
    assert started.audio_start_ms == 0
    assert 380 <= stopped.audio_end_ms <= 450  # where the speech ended, to a VAD window
    (transcribed,) = driver.of(ev.InputAudioTranscriptionCompleted)
    assert transcribed.transcript == "When are you open on Saturday?"
    # Transcribed once (begun in the closing silence), and the LLM got that transcript.
    assert len(fakes.stt.requests) == 1
    (request,) = fakes.llm.requests
    assert request.messages[-1] == {"role": "user", "content": "When are you open on Saturday?"}
    assert request.messages[0]["role"] == "system"

    assert done.response.status == "completed"
    reply = "You said: When are you open on Saturday?"
    part = audio_part(assistant_item(driver))
    assert part.transcript == reply
    assert driver.of(ev.ResponseAudioTranscriptDone)[0].transcript == reply
    # The item holds exactly the audio that went out: the TTS's length for each clause.
    assert part.audio == driver.audio_bytes(done.response.id)
    wire_bytes_per_ms = rate * (2 if encoding == "pcm16" else 1) / 1000
    spoken_ms = sum(fakes.tts.duration_ms(clause) for clause in fakes.tts.synthesized)
    assert len(part.audio) == spoken_ms * wire_bytes_per_ms
    assert " ".join(fakes.tts.synthesized) == reply


async def test_barge_in_cancels_the_reply_and_truncates_it_where_the_listener_was(
    start: Start, fakes: Fakes
) -> None:
    hold = Hold()
    # Two clauses of 120 and 180 ms, then the LLM stalls: the reply is still being generated.
    fakes.llm.replies.append(
        [TextDelta("Hello there. "), TextDelta("How are you today? "), hold, TextDelta("Bye.")]
    )
    driver = start()
    await driver.feed(speech(300) + silence(700))
    await until(lambda: len(driver.audio_bytes()) == 300 * BYTES_PER_MS)
    assert driver.session.responding

    driver.listener.heard = 200  # the caller has heard 200 of the 300 ms sent
    await driver.feed(speech(100))
    done = await driver.wait_for(ev.ResponseDone)
    assert done.response.status == "cancelled"
    assert done.response.reason == "turn_detected"
    (truncated,) = driver.of(ev.ConversationItemTruncated)
    item = assistant_item(driver)
    assert (truncated.item_id, truncated.content_index, truncated.audio_end_ms) == (item.id, 0, 200)
    assert in_order(
        driver,
        ev.InputAudioBufferSpeechStarted,
        ev.InputAudioBufferSpeechStarted,
        ev.ResponseDone,
        ev.ConversationItemTruncated,
    )
    part = audio_part(item)
    assert part.audio == driver.audio_bytes()[: 200 * BYTES_PER_MS]
    # The first clause whole, then the words of the second that had started by 200 ms.
    assert part.transcript == "Hello there. How are"
    assert item in driver.session.history
    assert item.status == "incomplete"
    # The LLM's stream was abandoned where it stalled.
    assert fakes.llm.requests[-1].closed
    assert not fakes.llm.requests[-1].finished
    assert not driver.session.speaking


@pytest.mark.parametrize("barge_in", [True, False])
async def test_a_prompt_is_cut_short_only_when_barge_in_is_on(
    start: Start, fakes: Fakes, barge_in: bool
) -> None:
    """A dialplan prompt: the session only listens, and ``say`` speaks; with barge-in off
    (``interrupt_response=False``) the caller talking over it changes nothing."""
    detection = ServerVad(create_response=False, interrupt_response=barge_in)
    driver = start(config(turn_detection=detection))
    prompt = "Please listen carefully. Our menu has changed."
    driver.session.say(prompt)
    done = await driver.wait_for(ev.ResponseDone)
    assert done.response.status == "completed"
    item = assistant_item(driver)
    sent = driver.audio_bytes()
    assert audio_part(item).audio == sent
    assert len(sent) == BYTES_PER_MS * 450  # two clauses of 24 and 21 characters

    driver.listener.heard = 150  # still playing
    assert driver.session.speaking
    await driver.feed(speech(300) + silence(700))
    await driver.wait_for(ev.InputAudioTranscriptionCompleted)

    assert len(driver.of(ev.ResponseCreated)) == 1  # the caller's turn got no reply
    assert fakes.llm.requests == []
    part = audio_part(item)
    if barge_in:
        (truncated,) = driver.of(ev.ConversationItemTruncated)
        assert truncated.audio_end_ms == 150
        assert part.audio == sent[: 150 * BYTES_PER_MS]
        assert part.transcript == "Please listen"
        assert not driver.session.speaking
        assert driver.listener.clears == 1  # the carrier was told to drop its queue
    else:
        assert driver.of(ev.ConversationItemTruncated) == []
        assert part.audio == sent
        assert part.transcript == prompt
        assert driver.session.speaking  # still playing to the end
        assert driver.listener.clears == 0  # and the carrier keeps playing it


async def test_barge_in_off_lets_a_reply_being_generated_finish(start: Start, fakes: Fakes) -> None:
    hold = Hold()
    fakes.llm.replies.append([TextDelta("Hello there. "), hold, Completed("stop", "Hello there.")])
    driver = start(config(turn_detection=ServerVad(interrupt_response=False)))
    await driver.feed(speech(300) + silence(700))
    await until(lambda: len(driver.audio_bytes()) == 120 * BYTES_PER_MS)
    driver.listener.heard = 50

    await driver.feed(speech(200))  # the caller talks over it, and goes on talking
    assert len(driver.of(ev.InputAudioBufferSpeechStarted)) == 2
    assert driver.session.responding
    hold.release()
    done = await driver.wait_for(ev.ResponseDone)
    assert done.response.status == "completed"
    assert driver.of(ev.ConversationItemTruncated) == []
    assert driver.listener.clears == 0
    assert audio_part(assistant_item(driver)).transcript == "Hello there."


async def test_the_reply_asked_for_in_the_closing_silence_is_used(
    start: Start, fakes: Fakes
) -> None:
    driver = start()
    await driver.feed(speech(400) + silence(200))
    # Transcribed early and the reply asked for, while the turn has not ended yet.
    await until(lambda: len(fakes.llm.requests) == 1)
    assert driver.of(ev.InputAudioBufferSpeechStopped) == []
    assert driver.of(ev.ResponseCreated) == []
    await until(lambda: bool(fakes.tts.warmed))  # its first clause synthesized ahead

    await driver.feed(silence(500))
    done = await driver.wait_for(ev.ResponseDone)
    assert done.response.status == "completed"
    assert len(fakes.llm.requests) == 1  # the prefetch's request was the reply's
    assert len(fakes.stt.requests) == 1
    (transcribed,) = driver.of(ev.InputAudioTranscriptionCompleted)
    assert fakes.llm.requests[0].user_text == transcribed.transcript
    reply = f"You said: {transcribed.transcript}"
    assert audio_part(assistant_item(driver)).transcript == reply
    # The warmed first clause came from the cache: every clause was synthesized once.
    (warmed,) = fakes.tts.warmed
    assert reply.startswith(warmed)
    assert " ".join(fakes.tts.synthesized) == reply


async def test_talking_on_after_the_early_transcript_drops_the_prefetched_reply() -> None:
    first, whole = "I would like to book a table", "I would like to book a table for four"
    fakes = Fakes(stt=FakeSTT([first, whole]))
    stalled = Hold()  # the first prefetch stalls mid-reply: its cancellation is visible
    fakes.llm.replies.append([TextDelta("Certainly, "), stalled, TextDelta("a table.")])
    async with drivers(fakes) as start:
        driver = start()
        await driver.feed(speech(300) + silence(200))
        await until(lambda: len(fakes.llm.requests) == 1)
        assert fakes.llm.requests[0].user_text == first

        await driver.feed(speech(300) + silence(200))  # not the end: the caller goes on
        await until(lambda: len(fakes.llm.requests) == 2)
        assert fakes.llm.requests[0].closed  # the first prefetch was cancelled
        assert not fakes.llm.requests[0].finished

        await driver.feed(silence(500))
        done = await driver.wait_for(ev.ResponseDone)

    assert len(driver.of(ev.InputAudioBufferSpeechStopped)) == 1  # one turn
    assert len(driver.of(ev.ResponseCreated)) == 1
    assert done.response.status == "completed"
    assert len(fakes.llm.requests) == 2
    assert fakes.llm.requests[1].user_text == whole
    (transcribed,) = driver.of(ev.InputAudioTranscriptionCompleted)
    assert transcribed.transcript == whole
    assert audio_part(assistant_item(driver)).transcript == f"You said: {whole}"
    assert fakes.stt.requests[1].voiced_ms > fakes.stt.requests[0].voiced_ms + 250


async def test_without_prefetch_the_reply_is_asked_for_after_the_turn(
    start: Start, fakes: Fakes
) -> None:
    driver = start(settings=Settings(prefetch_reply=False))
    await driver.feed(speech(400) + silence(200))
    await until(lambda: len(fakes.stt.results) == 1)  # the early transcript is in
    assert fakes.llm.requests == []
    await driver.feed(silence(500))
    await driver.wait_for(ev.ResponseDone)
    assert len(fakes.llm.requests) == 1
    assert fakes.tts.warmed == []


async def test_the_reply_waits_for_a_slow_transcription() -> None:
    gate = asyncio.Event()
    fakes = Fakes(stt=FakeSTT(["Is anyone there?"], gate=gate))
    async with drivers(fakes) as start:
        driver = start()
        await driver.feed(speech(300) + silence(700))
        await driver.wait_for(ev.InputAudioBufferCommitted)
        await until(lambda: len(fakes.stt.requests) == 1)
        assert driver.of(ev.InputAudioTranscriptionCompleted) == []
        assert driver.of(ev.ResponseCreated) == []
        assert fakes.llm.requests == []  # no transcript, nothing to prefetch

        gate.set()
        await driver.wait_for(ev.ResponseDone)
    assert in_order(driver, ev.InputAudioTranscriptionCompleted, ev.ResponseCreated)
    assert len(fakes.stt.requests) == 1  # the early job, held, was the turn's transcription
    assert [call.user_text for call in fakes.llm.requests] == ["Is anyone there?"]
