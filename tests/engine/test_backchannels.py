"""Speech over the agent's reply: paused at once, then a backchannel resumes it and anything
else cancels it (fake engines, a listener that can play on, stream time as the clock)."""

from __future__ import annotations

import asyncio

import pytest
from engine_harness import (
    AudioPart,
    Driver,
    MessageItem,
    ResumableListener,
    ServerVad,
    Start,
    config,
    drivers,
    ev,
)

from bridge.config import Settings
from bridge.engine.overlap import BACKCHANNEL_PROMPT, Backchannels, Overlap, Verdict
from bridge.pipeline.llm import TextDelta
from bridge.testing.fakes import Fakes, FakeSTT, Hold, silence, speech, until

BYTES_PER_MS = 48  # pcm16 at 24 kHz
REPLY = [TextDelta("Hello there. "), TextDelta("How are you today? ")]  # 120 + 180 ms


async def replying(start: Start, fakes: Fakes, hold: Hold, **settings: object) -> Driver:
    """A session whose reply has sent 300 ms of audio (the listener heard 200) and whose LLM
    is stalled: the reply is still being generated when the caller makes a sound."""
    fakes.llm.replies.append([*REPLY, hold, TextDelta("Bye.")])
    driver = start(settings=Settings(**settings), listener=ResumableListener())  # type: ignore[arg-type]
    await driver.feed(speech(300) + silence(700))
    await until(lambda: len(driver.audio_bytes()) == 300 * BYTES_PER_MS)
    driver.listener.heard = 200
    return driver


def assistant(driver: Driver) -> MessageItem:
    item = driver.of(ev.ResponseDone)[0].response.output[0]
    assert isinstance(item, MessageItem)
    return item


def audio_of(item: MessageItem) -> AudioPart:
    part = item.content[0]
    assert isinstance(part, AudioPart)
    return part


@pytest.fixture
def fakes() -> Fakes:
    return Fakes(stt=FakeSTT(["Hi, how are you?"]))


@pytest.fixture
async def start(fakes: Fakes) -> object:
    async with drivers(fakes) as start:
        yield start


@pytest.mark.parametrize("said", ["Uh-huh.", "Yeah, okay.", "Mm-hmm", ""])
async def test_a_backchannel_pauses_the_reply_then_it_resumes_where_it_was_heard(
    start: Start, fakes: Fakes, said: str
) -> None:
    hold = Hold()
    driver = await replying(start, fakes, hold)
    listener = driver.listener
    assert isinstance(listener, ResumableListener)
    fakes.stt.transcripts.append(said)

    await driver.feed(speech(250))  # the caller's "uh-huh" (or a noise) over the reply
    assert listener.clears == 1  # playout stopped at once
    assert driver.session.responding  # but the reply goes on
    await driver.feed(silence(200))  # a pause: the words are transcribed and judged
    assert len(listener.resumed) == 1
    replayed, done = listener.resumed[0]
    assert replayed == driver.audio_bytes()[200 * BYTES_PER_MS :]  # from where it was heard
    assert not done

    hold.release()
    done_event = await driver.wait_for(ev.ResponseDone)
    await driver.feed(silence(600))
    assert done_event.response.status == "completed"
    assert driver.of(ev.ConversationItemTruncated) == []
    item = assistant(driver)
    assert audio_of(item).transcript == "Hello there. How are you today? Bye."
    assert audio_of(item).audio == driver.audio_bytes()
    # The history is exact: the caller's turn and the reply; the backchannel is no turn.
    assert [i.role for i in driver.session.history if isinstance(i, MessageItem)] == [
        "user",
        "assistant",
    ]
    assert len(driver.of(ev.InputAudioBufferSpeechStarted)) == 2
    assert len(driver.of(ev.InputAudioBufferSpeechStopped)) == 2
    assert len(driver.of(ev.InputAudioBufferCommitted)) == 1
    assert len(driver.of(ev.ResponseCreated)) == 1
    # Whisper was told to expect backchannels for the overlap only.
    assert [r.prompt for r in fakes.stt.requests] == [None, BACKCHANNEL_PROMPT]


async def test_words_over_the_reply_cancel_it_truncated_where_it_was_heard(
    start: Start, fakes: Fakes
) -> None:
    hold = Hold()
    driver = await replying(start, fakes, hold)
    fakes.stt.transcripts.extend(["No, that's wrong.", "No, that's wrong."])
    await driver.feed(speech(400) + silence(200))
    done = await driver.wait_for(ev.ResponseDone)
    assert (done.response.status, done.response.reason) == ("cancelled", "turn_detected")
    (truncated,) = driver.of(ev.ConversationItemTruncated)
    assert truncated.audio_end_ms == 200
    part = audio_of(assistant(driver))
    assert part.audio == driver.audio_bytes()[: 200 * BYTES_PER_MS]
    assert part.transcript == "Hello there. How are"
    assert fakes.llm.requests[0].closed
    assert driver.listener.resumed == []  # type: ignore[attr-defined]
    assert not driver.session.speaking

    await driver.feed(silence(500))  # the interruption is the caller's next turn, answered
    second = await driver.wait_for(ev.ResponseDone, 2)
    assert second.response.status == "completed"
    assert fakes.llm.requests[-1].user_text == "No, that's wrong."


async def test_sustained_speech_is_an_interruption_before_any_pause(
    start: Start, fakes: Fakes
) -> None:
    driver = await replying(start, fakes, Hold())
    await driver.feed(speech(500))
    assert not driver.of(ev.ConversationItemTruncated)  # still deciding
    await driver.feed(speech(200))  # 600 ms of speech (BRIDGE_INTERRUPT_MIN_MS) without a pause
    done = await driver.wait_for(ev.ResponseDone)
    assert done.response.status == "cancelled"
    assert driver.of(ev.ConversationItemTruncated)[0].audio_end_ms == 200
    assert len(fakes.stt.requests) == 1  # decided on length alone, nothing transcribed


async def test_the_verdict_waits_for_a_slow_transcription_at_the_end_of_the_speech() -> None:
    gate = asyncio.Event()
    fakes = Fakes(stt=FakeSTT(["Hi, how are you?", "Okay."]))
    async with drivers(fakes) as start:
        driver = await replying(start, fakes, Hold())
        fakes.stt.gate = gate  # the backchannel's transcription is slow
        await driver.feed(speech(250) + silence(400))
        assert driver.listener.resumed == []  # type: ignore[attr-defined]
        feeding = asyncio.create_task(driver.feed(silence(200)))  # VAD stop: waits for words
        await until(lambda: len(driver.of(ev.InputAudioBufferSpeechStopped)) == 2)
        assert not feeding.done()
        gate.set()
        await feeding
    assert len(driver.listener.resumed) == 1  # type: ignore[attr-defined]
    assert driver.of(ev.ConversationItemTruncated) == []
    assert len(driver.of(ev.InputAudioBufferCommitted)) == 1


async def test_without_backchannels_speech_interrupts_at_once(start: Start, fakes: Fakes) -> None:
    driver = await replying(start, fakes, Hold(), backchannels=False)
    await driver.feed(speech(100))
    done = await driver.wait_for(ev.ResponseDone)
    assert done.response.status == "cancelled"
    assert driver.of(ev.ConversationItemTruncated)[0].audio_end_ms == 200


async def test_interrupt_response_off_neither_pauses_nor_cancels(
    start: Start, fakes: Fakes
) -> None:
    hold = Hold()
    fakes.llm.replies.append([*REPLY, hold, TextDelta("Bye.")])
    listener = ResumableListener()
    driver = start(config(turn_detection=ServerVad(interrupt_response=False)), listener=listener)
    await driver.feed(speech(300) + silence(700))
    await until(lambda: len(driver.audio_bytes()) == 300 * BYTES_PER_MS)
    listener.heard = 200
    await driver.feed(speech(300))
    assert listener.clears == 0
    hold.release()
    done = await driver.wait_for(ev.ResponseDone)
    assert done.response.status == "completed"
    assert listener.resumed == []


def test_backchannel_phrases() -> None:
    words = Backchannels(Settings().backchannel_words)
    for text in ["Uh-huh.", "uh huh", "Mm-hmm!", "Yeah.", "Okay, okay.", "Right, I see.", ""]:
        assert words.match(text), text
    for text in ["Stop.", "Wait, no.", "No, that's wrong.", "Yeah but what about Sunday?"]:
        assert not words.match(text), text
    assert not words.match("yeah " * 7)  # that long is saying something
    assert not Backchannels([]).match("okay")


def test_the_verdict_table() -> None:
    words = Backchannels(["okay"])
    overlap = Overlap(start_ms=1000, run=None, audio=None, heard_ms=None)

    def judge(voiced_until: float | None, text: str | None) -> Verdict:
        return overlap.judge(voiced_until, text, interrupt_min_ms=600, backchannels=words)

    assert judge(1300, None) is Verdict.WAIT
    assert judge(1600, None) is Verdict.INTERRUPTION
    assert judge(1300, "Okay.") is Verdict.BACKCHANNEL
    assert judge(1300, "Hold on.") is Verdict.INTERRUPTION
    assert judge(None, "okay") is Verdict.BACKCHANNEL
