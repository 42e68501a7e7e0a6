"""``bridge bench --turn-taking --short`` end to end: a real bridge, two simulated callers, a
few items of each kind, on the default turn detection (semantic_vad with the end-of-turn
model). It checks that the measurement works and is sane, and that turns behave: no pause is
cut off, the backchannel does not cancel the answer, the interruption stops the agent. It does
not check how fast this machine is."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bridge.bench.cli import run_bench_command
from bridge.bench.turn_metrics import ItemResult
from bridge.bench.turn_run import STORY, TurnBenchResult, TurnDetection, turn_llm

ARGS: dict[str, object] = {
    "calls": None, "turns": 5, "url": None, "no_barge_in": False, "media_only": 0.0, "soak": 0.0,
    "media_calls": 0, "png": None, "turn_taking": True, "short": True,
    "turn_detection": "semantic_vad", "silence_ms": None, "eagerness": "auto", "bridge_env": [],
}  # fmt: skip


@pytest.mark.slow
def test_the_short_turn_taking_bench_measures_every_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "turns.json"
    png = tmp_path / "gaps.png"
    assert run_bench_command(argparse.Namespace(**ARGS | {"json": str(out), "png": str(png)})) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    report = json.loads(out.read_text())
    summary, items = report["summary"], report["items"]
    assert summary["turn_detection"] == "semantic_vad eagerness auto"
    assert summary["calls"] == 2
    assert {item["kind"] for item in items} == {
        "pause", "question", "backchannel", "interruption", "long_answer"
    }  # fmt: skip
    assert summary["unanswered"] == 0
    # The long answer lasts seconds; every figure is a figure.
    assert 4.0 < summary["long_answer_s"] < 15.0
    for key in ("question_turn_gap_p50_ms", "question_turn_gap_max_ms", "pause_turn_gap_p50_ms"):
        assert 0 < summary[key] < 10_000, key
    assert 0 <= summary["false_cutoff_rate"] <= 1
    assert summary["cutoffs_heard"] <= summary["false_cutoffs"]
    # A 400 ms pause is shorter than any silence rule in use: never a cut-off.
    short_pause = next(item for item in items if item["pauses_ms"] == [400])
    assert short_pause["answered_early_ms"] is None
    assert not short_pause["split"]
    # The end-of-turn model waits through every pause of the set (400–900 ms after fillers).
    assert summary["false_cutoffs"] == 0, [item for item in items if item["split"]]
    # The backchannel let the answer go on: the caller heard the rest of it.
    assert (summary["false_interruptions"], summary["backchannel_rest_heard"]) == (0, 1)
    (backchannel,) = (item for item in items if item["kind"] == "backchannel")
    assert 0 < backchannel["heard_s"] <= summary["long_answer_s"] * 1.2
    # The interruption stopped the agent, soon after the caller started.
    assert summary["missed_interruptions"] == 0
    assert 0 <= summary["stop_latency_max_ms"] < 2000
    assert summary["late_frames"] >= 0
    assert 0 < summary["cpu_share_per_call"] < 1
    printed = capsys.readouterr().out
    assert "false_cutoff_rate" in printed
    assert "(target <= 450: " in printed


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"bridge_env": ["VAD_SILENCE_MS=300"]}, "expects BRIDGE_NAME=VALUE"),
        ({"bridge_env": ["BRIDGE_VAD_SILENCE_MS"]}, "expects BRIDGE_NAME=VALUE"),
        ({"url": "http://127.0.0.1:1"}, "does not combine with --url"),
    ],
)
def test_bad_turn_taking_options_get_a_clear_error(
    changes: dict[str, object], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_bench_command(argparse.Namespace(**ARGS | {"json": None} | changes)) == 2
    assert said in capsys.readouterr().out


def test_server_vad_silence_goes_to_the_bridge_setting() -> None:
    detection = TurnDetection("server_vad", silence_ms=300)
    env = detection.env()
    assert env["BRIDGE_VAD_SILENCE_MS"] == "300"
    assert detection.label(env) == "server_vad 300 ms"


def test_the_bench_llm_answers_by_kind_of_utterance() -> None:
    llm = turn_llm()

    def said(text: str) -> str:
        return llm.reply_for([{"role": "user", "content": text}]).text

    assert said("Please tell me the long story about your company.") == STORY
    assert said("Uh-huh.") == "Okay."
    assert said("No, that's wrong.") == "Okay."
    first, second = said("What time do you open?"), said("What time do you open?")
    assert first != second  # unique per turn: no speech-cache help
    assert "is fine" in first


def test_a_result_without_its_long_answer_is_incomplete() -> None:
    question = ItemResult("question", "Hi?", (), 0, answered=True, turn_gap_ms=600.0)
    answer = ItemResult("long_answer", "Story?", (), 0, answered=True, heard_s=6.5)
    result = TurnBenchResult(calls=1, turn_detection="server_vad 500 ms", items=[question])
    assert not result.complete
    result.items.append(answer)
    assert result.complete
    result.cpu_s, result.wall_s, result.asked = 3.0, 60.0, ["Hi?"]
    report = result.to_json()
    assert report["summary"]["cpu_share_per_call"] == 0.05
    assert report["llm_user_turns"] == ["Hi?"]
    assert len(report["items"]) == 2
