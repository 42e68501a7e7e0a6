"""Smart Turn v3.2, the bundled end-of-turn model, on the bundled voice's speech."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np
import pytest

from bridge.pipeline.turn_model import WINDOW_SAMPLES, SmartTurn, bundled_model_path, model_input

PAUSE = bytes(2 * 16_000 * 200 // 1000)  # 200 ms of silence: when the engine asks


def test_the_model_ships_with_its_licence_and_provenance() -> None:
    models = bundled_model_path().parent
    assert bundled_model_path().stat().st_size == 8_679_182
    assert "BSD 2-Clause" in (models / "LICENSE-smart-turn").read_text()
    assert (
        "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
        in (models / "PROVENANCE.md").read_text()
    )


def test_short_audio_is_padded_at_the_front_and_long_audio_keeps_its_end() -> None:
    short = np.ones(100, dtype=np.float32)
    window = model_input(short)
    assert len(window) == WINDOW_SAMPLES
    assert window[-100:].tolist() == short.tolist()
    assert not window[:-100].any()
    long = np.arange(WINDOW_SAMPLES + 5, dtype=np.float32)
    assert model_input(long)[0] == 5


async def test_a_finished_question_scores_high_and_a_filler_low(
    smart_turn: SmartTurn, speak: Callable[[str, int], bytes]
) -> None:
    finished = await smart_turn.complete_probability(
        speak("When are you open on Saturday?", 16_000) + PAUSE, 16_000
    )
    unfinished = await smart_turn.complete_probability(
        speak("I would like to book a table for, um", 16_000) + PAUSE, 16_000
    )
    assert finished > 0.7
    assert unfinished < 0.3


async def test_phone_audio_is_resampled_and_judged_the_same(
    smart_turn: SmartTurn, speak: Callable[[str, int], bytes]
) -> None:
    question = speak("When are you open on Saturday?", 8_000) + bytes(2 * 8_000 * 200 // 1000)
    assert await smart_turn.complete_probability(question, 8_000) > 0.7


async def test_a_decision_runs_off_the_event_loop(smart_turn: SmartTurn) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    await smart_turn.complete_probability(bytes(2 * 16_000 * 3), 16_000)
    elapsed = time.perf_counter() - started
    ticker.cancel()
    # The loop kept turning while the model ran (one tick per 5 ms, allowing for load).
    assert ticks >= min(3, int(elapsed / 0.005) // 4)
    assert smart_turn.last_run_s > 0


@pytest.mark.parametrize("rate", [8_000, 16_000, 24_000])
async def test_silence_is_a_valid_input_at_every_rate(smart_turn: SmartTurn, rate: int) -> None:
    probability = await smart_turn.complete_probability(bytes(2 * rate // 10), rate)
    assert 0.0 <= probability <= 1.0
