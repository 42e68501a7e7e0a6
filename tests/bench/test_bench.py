"""``bridge bench`` must keep working: a 2-call, 2-turn run end to end. It checks that the
benchmark measures, not how fast this machine is."""

from __future__ import annotations

import argparse
import asyncio
import json
import zlib
from pathlib import Path

import pytest

from bridge.bench.cli import run_bench_command, table
from bridge.bench.png import histogram_png
from bridge.bench.run import BenchResult, run_bench

pytestmark = pytest.mark.slow


def test_two_calls_two_turns_report_every_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(
        calls=2, turns=2, url=None, no_barge_in=False, media_only=0.0, soak=0.0, media_calls=0,
        turn_taking=False,
        json=str(tmp_path / "bench.json"), png=str(tmp_path / "gaps.png"),
    )  # fmt: skip
    assert run_bench_command(args) == 0
    summary = json.loads((tmp_path / "bench.json").read_text())["summary"]
    assert summary["calls"] == 2
    assert summary["turns"] == 4
    assert summary["unanswered_turns"] == 0
    for key in ("turn_gap_p50_ms", "turn_gap_p95_ms", "turn_gap_max_ms", "barge_in_max_ms",
                "cold_start_s", "server_cpu_s", "cpu_s_per_turn", "peak_rss_mb"):  # fmt: skip
        assert isinstance(summary[key], float), key
        assert summary[key] > 0, key
    assert summary["late_frames"] >= 0
    # The bridge's own view of the same turns, from its /metrics: inside the callers' gaps.
    assert 0 < summary["bridge_gap_mean_ms"] < summary["turn_gap_max_ms"]
    assert 0 < summary["bridge_stt_mean_ms"] < summary["bridge_gap_mean_ms"]
    assert 0 < summary["bridge_tts_first_ms"] < summary["bridge_gap_mean_ms"]
    # Each engine's threads are named, so the CPU splits by role; the parts make the whole.
    roles = summary["cpu_share_by_role"]
    assert {"event_loop", "stt", "tts", "vad"} <= roles.keys()
    assert roles["event_loop"] > 0
    assert roles["stt"] > 0
    assert roles["tts"] > 0
    per_call = summary["cpu_share_per_call"]
    assert sum(roles.values()) == pytest.approx(per_call, rel=0.1, abs=0.005)
    png = (tmp_path / "gaps.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    printed = capsys.readouterr().out
    assert "turn_gap_p50_ms" in printed
    assert "target <= 800" in printed
    assert "event_loop " in printed


def test_png_histogram_is_a_valid_image() -> None:
    png = histogram_png([120.0, 450.0, 460.0, 2500.0, 9000.0], marks_ms=(800,))
    assert png[12:16] == b"IHDR"
    width = int.from_bytes(png[16:20], "big")
    height = int.from_bytes(png[20:24], "big")
    idat = png.index(b"IDAT")
    length = int.from_bytes(png[idat - 4 : idat], "big")
    raw = zlib.decompress(png[idat + 4 : idat + 4 + length])
    assert len(raw) == height * (1 + width * 3)  # one filter byte and RGB per row


def test_table_marks_missed_targets() -> None:
    result = BenchResult(calls=1, turns=1, turn_gaps_ms=[900.0], cold_start_s=3.0)
    text = table(result)
    assert "turn_gap_p50_ms        900.000  (target <= 800: MISSED)" in text
    assert "cold_start_s           3.000  (target <= 10: ok)" in text


def test_the_bench_is_never_refused_for_its_own_calls() -> None:
    # A bridge capped at 2 sessions, asked for 3 media-only calls: the bench raises the cap,
    # or the third call would be turned away (close code 1013).
    result = asyncio.run(
        run_bench(calls=3, turns=0, media_only_s=1.0, env={"BRIDGE_MAX_SESSIONS": "2"})
    )
    assert result.calls == 3
    assert result.agent_audio_s >= 3 * 0.8  # every call heard its second of hold music
