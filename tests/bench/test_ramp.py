"""``bridge bench --ramp``: when a ramp stops and what it prints, on canned levels; and one
short real ramp against a running bridge."""

from __future__ import annotations

import argparse

import pytest
from conftest import RunningBridge

from bridge.bench import cli
from bridge.bench.ramp import RampLevel, RampResult, levels, ramp_table, run_ramp


def test_calls_held_is_the_last_level_within_the_limit() -> None:
    result = RampResult(limit_ms=1000.0)
    result.levels = [
        RampLevel(calls=4, turn_gaps_ms=[500.0, 600.0]),
        RampLevel(calls=8, turn_gaps_ms=[700.0, 900.0]),
        RampLevel(calls=12, turn_gaps_ms=[900.0, 1500.0]),
    ]
    assert result.calls_held == 8
    result.levels[1].unanswered = 1  # an unanswered turn fails a level whatever its gaps
    assert result.calls_held == 4
    table = ramp_table(result)
    assert "calls held at turn-gap p95 <= 1000 ms: 4" in table
    assert table.splitlines()[1].split()[0] == "4"


def test_levels_and_cpu_lists_are_checked() -> None:
    assert levels(2, 4, 14) == [2, 6, 10, 14]
    with pytest.raises(ValueError, match="a ramp needs"):
        levels(0, 1, 10)
    assert cli._cpus("0-2,5") == {0, 1, 2, 5}
    with pytest.raises(argparse.ArgumentTypeError, match="not a CPU list"):
        cli._cpus("a-b")
    with pytest.raises(ValueError, match="BRIDGE_NAME=VALUE"):
        cli.bridge_env(["BRIDGE_STT_BATCH"])


@pytest.mark.slow
async def test_a_short_ramp_against_a_running_bridge_reports_each_level(
    bridge: RunningBridge,
) -> None:
    result = await run_ramp(start=1, step=1, most=2, turns=1, url=bridge.url, limit_ms=60_000)
    assert [level.calls for level in result.levels] == [1, 2]
    assert result.calls_held == 2
    for level in result.levels:
        assert len(level.turn_gaps_ms) == level.calls
        assert level.stages["stt"]["count"] >= level.calls
        assert level.stages["turn_gap"]["count"] == level.calls
        assert level.server_cpu_share is None  # not the bench's own bridge: no /proc figures
        assert "gpu" in level.gpu
