"""Each answered turn logs, at info level, what was heard, what was said and the latency;
``BRIDGE_LOG_TRANSCRIPTS=false`` keeps the words out of the log."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from engine_harness import Start, drivers, ev
from structlog.testing import capture_logs

from bridge.config import Settings
from bridge.testing.fakes import Fakes, silence, speech


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def start(fakes: Fakes) -> AsyncIterator[Start]:
    async with drivers(fakes) as start:
        yield start


@pytest.mark.parametrize("transcripts", [True, False])
async def test_an_answered_turn_logs_heard_said_and_latency(
    start: Start, fakes: Fakes, transcripts: bool
) -> None:
    fakes.stt.transcripts.append("When are you open on Saturday?")
    driver = start(settings=Settings(log_transcripts=transcripts))
    with capture_logs() as logs:
        await driver.feed(speech(400, 24_000, "pcm16") + silence(700, 24_000, "pcm16"))
        done = await driver.wait_for(ev.ResponseDone)
    turns = [entry for entry in logs if entry["event"] == "turn"]
    assert len(turns) == 1, logs
    (turn,) = turns
    assert turn["log_level"] == "info"
    assert turn["status"] == done.response.status == "completed"
    assert isinstance(turn["latency_ms"], int)
    assert 0 <= turn["latency_ms"] < 5000
    said = driver.of(ev.ResponseAudioTranscriptDone)[0].transcript
    assert said
    if transcripts:
        assert turn["heard"] == "When are you open on Saturday?"
        assert turn["said"] == said
    else:
        assert "heard" not in turn
        assert "said" not in turn
        assert turn["heard_chars"] == len("When are you open on Saturday?")
        assert turn["said_chars"] == len(said)


async def test_rate_limits_report_the_configured_token_budget(start: Start, fakes: Fakes) -> None:
    # With no max_output_tokens from the client, the budget is BRIDGE_LLM_MAX_TOKENS.
    fakes.llm.max_tokens = 400
    driver = start()
    await driver.say_user("Hello")
    await driver.wait_for(ev.ResponseDone)
    (limits,) = driver.of(ev.RateLimitsUpdated)
    tokens = {limit.name: limit.limit for limit in limits.rate_limits}["tokens"]
    assert tokens == 400
