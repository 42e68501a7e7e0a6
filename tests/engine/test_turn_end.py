"""The end of a turn under ``semantic_vad``: the end-of-turn model, asked in a short pause.

Fake engines and a fake model with scripted verdicts; stream time is the clock (audio is fed
in 20 ms chunks, as a carrier sends it), so each decision is exact and takes milliseconds.
"""

from __future__ import annotations

import asyncio

import pytest
from engine_harness import Driver, SemanticVad, ServerVad, Start, ce, config, drivers, ev

from bridge.config import Settings
from bridge.engine.turn_end import TurnEndParams, TurnEndSchedule
from bridge.testing.fakes import Fakes, FakeTurnModel, silence, speech, until

SEMANTIC = config(turn_detection=SemanticVad())  # auto: threshold 0.5, at most 4 s of quiet


def stopped(driver: Driver) -> list[ev.InputAudioBufferSpeechStopped]:
    return driver.of(ev.InputAudioBufferSpeechStopped)


async def test_a_complete_turn_ends_at_the_first_question_and_is_answered() -> None:
    model = FakeTurnModel([0.9])
    fakes = Fakes(turn=model)
    async with drivers(fakes) as start:
        driver = start(SEMANTIC)
        await driver.feed(speech(400) + silence(180))
        assert model.questions == []  # not yet 200 ms quiet
        await driver.feed(silence(120))  # asked at 200 ms of quiet, ended on the verdict
        (stop,) = stopped(driver)
        assert 400 <= stop.audio_end_ms <= 450
        done = await driver.wait_for(ev.ResponseDone)
    (question,) = model.questions
    assert question.voiced_ms >= 390  # the model heard the turn, with its pause
    assert done.response.status == "completed"
    (transcribed,) = driver.of(ev.InputAudioTranscriptionCompleted)
    assert fakes.llm.requests[-1].user_text == transcribed.transcript


async def test_an_unfinished_turn_waits_and_the_model_is_asked_again() -> None:
    model = FakeTurnModel([0.1, 0.2, 0.9])
    fakes = Fakes(turn=model)
    async with drivers(fakes) as start:
        driver = start(SEMANTIC)
        await driver.feed(speech(400) + silence(1000))  # "table for, um ..."
        assert stopped(driver) == []
        assert len(model.questions) == 2  # at 200 and 700 ms
        await driver.feed(silence(300))  # asked a third time at 1200 ms: finished
        assert len(stopped(driver)) == 1
        assert len(model.questions) == 3
        await driver.wait_for(ev.ResponseDone)
    assert len(driver.of(ev.ResponseCreated)) == 1


async def test_the_caller_going_on_after_an_unfinished_pause_makes_one_turn() -> None:
    model = FakeTurnModel([0.05])
    fakes = Fakes(turn=model)
    async with drivers(fakes) as start:
        driver = start(SEMANTIC)
        await driver.feed(speech(300) + silence(600))  # "I'd like to book a table for, um"
        await driver.feed(speech(300) + silence(300))  # "four people."
        await driver.wait_for(ev.ResponseDone)
    assert len(stopped(driver)) == 1
    assert len(model.questions) == 2
    assert model.questions[1].voiced_ms >= 590  # the second question heard both parts
    assert len(driver.of(ev.InputAudioBufferCommitted)) == 1
    assert fakes.stt.requests[-1].voiced_ms >= 590  # one turn, transcribed whole


@pytest.mark.parametrize("model", ["never finished", "never answers"])
async def test_the_maximum_wait_ends_the_turn_whatever_the_model_says(model: str) -> None:
    gate = asyncio.Event() if model == "never answers" else None
    model = FakeTurnModel(default=0.0, gate=gate)
    fakes = Fakes(turn=model)
    async with drivers(fakes) as start:
        driver = start(config(turn_detection=SemanticVad(eagerness="high")))  # at most 2 s
        await driver.feed(speech(400) + silence(1940))
        assert stopped(driver) == []
        await driver.feed(silence(120))
        assert len(stopped(driver)) == 1
        await driver.wait_for(ev.ResponseDone)
    # Asked at 200, 700, 1200, 1700 ms; a model that never answers is asked once.
    assert len(model.questions) == (1 if gate else 4)


async def test_speech_resuming_drops_the_question_in_flight() -> None:
    gate = asyncio.Event()
    model = FakeTurnModel([0.95, 0.95], gate=gate)
    fakes = Fakes(turn=model)
    async with drivers(fakes) as start:
        driver = start(SEMANTIC)
        await driver.feed(speech(300) + silence(280))
        assert len(model.questions) == 1
        await driver.feed(speech(200))  # the caller talks on before the verdict
        gate.set()
        await driver.feed(silence(100))
        assert stopped(driver) == []  # the stale "finished" did not end the turn
        await driver.feed(silence(200))
        assert len(stopped(driver)) == 1
        await driver.wait_for(ev.ResponseDone)
    assert len(model.questions) == 2


async def test_server_vad_keeps_its_silence_duration_and_never_asks_the_model() -> None:
    model = FakeTurnModel([1.0])
    fakes = Fakes(turn=model)
    async with drivers(fakes) as start:
        driver = start(config(turn_detection=ServerVad(silence_duration_ms=500)))
        await driver.feed(speech(400) + silence(480))
        assert stopped(driver) == []
        await driver.feed(silence(60))
        assert len(stopped(driver)) == 1
        await driver.wait_for(ev.ResponseDone)
    assert model.questions == []


async def test_without_a_model_semantic_vad_maps_eagerness_onto_silence(start: Start) -> None:
    driver = start(config(turn_detection=SemanticVad(eagerness="high")))  # 350 ms
    await driver.feed(speech(400) + silence(330))
    assert stopped(driver) == []
    await driver.feed(silence(60))
    assert len(stopped(driver)) == 1


async def test_the_reply_is_prefetched_before_a_model_ended_turn() -> None:
    """Early work keeps up: at 64 ms of quiet the words are transcribed and the reply asked
    for, so a turn the model ends at 200 ms adopts a reply already under way."""
    gate = asyncio.Event()
    model = FakeTurnModel([0.9], gate=gate)
    fakes = Fakes(turn=model)
    async with drivers(fakes) as start:
        driver = start(SEMANTIC)
        await driver.feed(speech(400) + silence(160))
        await until(lambda: len(fakes.llm.requests) == 1)  # prefetched at 64 ms of quiet
        await until(lambda: bool(fakes.tts.warmed))
        await driver.feed(silence(140))
        assert len(model.questions) == 1
        assert stopped(driver) == []
        gate.set()
        await driver.feed(silence(20))
        assert len(stopped(driver)) == 1
        done = await driver.wait_for(ev.ResponseDone)
    assert done.response.status == "completed"
    assert len(fakes.llm.requests) == 1  # the prefetched request was the reply's
    assert len(fakes.stt.requests) == 1


def test_the_schedule_asks_at_the_check_then_every_recheck_until_the_maximum() -> None:
    schedule = TurnEndSchedule(TurnEndParams(0.5, check_ms=200, recheck_ms=500, max_wait_ms=1000))
    asked = []
    for quiet in range(0, 1200, 32):
        if schedule.due(416, quiet):
            schedule.asked(quiet)
            asked.append(quiet)
    assert asked == [224, 736]
    assert schedule.due(999, 224)  # a new pause starts over
    assert schedule.complete(0.5)
    assert not schedule.complete(0.49)


@pytest.fixture
async def start() -> object:
    async with drivers(Fakes(turn=None)) as start:
        yield start


def test_settings_reach_the_engine() -> None:
    settings = Settings(turn_check_ms=150, turn_recheck_ms=300).conversation
    assert (settings.turn_check_ms, settings.turn_recheck_ms) == (150, 300)


async def test_a_realtime_client_switches_to_semantic_vad_with_session_update() -> None:
    model = FakeTurnModel([0.9])
    fakes = Fakes(turn=model)
    async with drivers(fakes) as start:
        driver = start()  # server_vad, as the API starts a session
        update = {
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}},
        }
        await driver.send(ce.SessionUpdate("e1", update))
        assert driver.session.config.turn_detection == SemanticVad(eagerness="high")
        await driver.feed(speech(400) + silence(300))  # ended by the model, not 500 ms of quiet
        assert len(stopped(driver)) == 1
        await driver.wait_for(ev.ResponseDone)
    assert len(model.questions) == 1
