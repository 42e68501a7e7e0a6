"""``bridge bench --stt-batch N``: batched and one-by-one transcription of the same turns."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bridge.bench.cli import run_bench_command
from bridge.config import Settings

pytestmark = pytest.mark.slow


def test_stt_batch_reports_both_timings_and_the_same_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(stt_batch=3, json=str(tmp_path / "stt.json"))
    assert run_bench_command(args, Settings(stt_batch_size=4)) == 0
    summary = json.loads((tmp_path / "stt.json").read_text())
    assert summary["turns"] == 3
    assert summary["same_text"] is True
    assert summary["one_by_one_s"] > 0
    assert summary["batched_s"] > 0
    assert sum(int(size) for size in summary["batch_sizes"].split(",")) == 3
    assert "speed_up" in capsys.readouterr().out
