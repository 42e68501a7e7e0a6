"""The soak's report, from samples (no bridge): growth and slope after the warm-up, memory
figures that tell a leak from the allocator, late frames split by where they come from."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bridge.bench.soak import Sample, SoakResult, _metrics, slope_per_minute, stalls_logged

METRICS = """\
# HELP bridge_late_frames_total Outbound audio frames sent after the caller's audio ran dry.
# TYPE bridge_late_frames_total counter
bridge_late_frames_total 7.0
# HELP bridge_event_loop_lag_seconds How late a 0.25 s timer on the event loop fires.
# TYPE bridge_event_loop_lag_seconds histogram
bridge_event_loop_lag_seconds_bucket{le="0.001"} 10.0
bridge_event_loop_lag_seconds_bucket{le="0.005"} 50.0
bridge_event_loop_lag_seconds_bucket{le="0.01"} 90.0
bridge_event_loop_lag_seconds_bucket{le="0.02"} 95.0
bridge_event_loop_lag_seconds_bucket{le="0.05"} 97.0
bridge_event_loop_lag_seconds_bucket{le="0.1"} 99.0
bridge_event_loop_lag_seconds_bucket{le="0.25"} 100.0
bridge_event_loop_lag_seconds_bucket{le="0.5"} 100.0
bridge_event_loop_lag_seconds_bucket{le="1.0"} 100.0
bridge_event_loop_lag_seconds_bucket{le="+Inf"} 100.0
bridge_event_loop_lag_seconds_count 100.0
bridge_event_loop_lag_seconds_sum 1.2
"""


def test_metrics_give_late_frames_lag_over_50ms_and_the_highest_bucket() -> None:
    assert _metrics(METRICS) == (7, 3, 0.25)


def test_a_lag_beyond_every_bucket_reports_the_last_finite_bound() -> None:
    text = METRICS.replace('le="+Inf"} 100.0', 'le="+Inf"} 101.0')
    text = text.replace("_count 100.0", "_count 101.0")
    assert _metrics(text) == (7, 4, 1.0)


def test_slope_is_least_squares_per_minute() -> None:
    assert slope_per_minute([(0, 100), (60, 101), (120, 102)]) == pytest.approx(1.0)
    assert slope_per_minute([(0, 100)]) is None


def sample(at_s: float, rss: float, in_use: float, free: float, late: int, lag: int) -> Sample:
    memory = {"anon_mb": rss - 80, "malloc_in_use_mb": in_use, "malloc_free_mb": free,
              "python_blocks": 500_000, "threads": 13}  # fmt: skip
    thread = {"cpu_s": at_s * 0.5, "waiting_s": at_s * 0.25}  # half busy, a quarter waiting
    return Sample(at_s, rss, 40, 30, 12, memory, late, lag, 0.1, thread)


def test_summary_separates_allocator_growth_from_memory_in_use() -> None:
    result = SoakResult(minutes=3, calls=2, media_calls=10, warmup_s=60)
    result.samples = [
        sample(0, 600, 250, 50, 100, 5),  # warm-up: not counted
        sample(60, 620, 250, 60, 110, 6),
        sample(120, 650, 251, 90, 110, 6),
        sample(180, 660, 250, 100, 120, 9),
        sample(181, 640, 240, 100, 120, 9),  # after the calls: not part of the load
    ]
    result.late_frames, result.late_frames_media = 30, 4
    result.load_average = [0.2, 0.4]
    summary = result.summary()
    assert (summary["load_average_at_start"], summary["load_average_at_end"]) == (0.2, 0.4)
    assert summary["rss_after_warmup_mb"] == 620
    assert summary["rss_end_mb"] == 660
    assert summary["rss_growth_mb"] == 40
    assert summary["rss_slope_mb_per_min"] == pytest.approx(20.0)
    assert summary["malloc_in_use_mb_growth"] == 0  # flat: no leak ...
    assert summary["malloc_free_mb_growth"] == 40  # ... the allocator kept what was freed
    assert summary["traced_mb_growth"] is None  # tracemalloc was off
    assert summary["late_frames_conversational"] == 26
    assert summary["late_frames_media_only"] == 4
    assert summary["bridge_late_frames"] == 20
    assert summary["bridge_loop_lag_over_50ms"] == 4
    assert summary["bridge_loop_lag_max_ms"] == 100
    assert summary["bridge_loop_thread_busy"] == 0.5
    assert summary["bridge_loop_thread_waiting_for_cpu"] == 0.25


def test_stalls_are_read_from_the_bridges_json_log_after_the_load_began(tmp_path) -> None:
    log = tmp_path / "bridge.log"
    stall = {"event": "event_loop_stalled", "stalled_ms": 70, "running_ms": 22,
             "waiting_for_cpu_ms": 23, "off_cpu_ms": 1, "stack": "vad.py:237 _windows"}  # fmt: skip
    lines = [
        json.dumps(stall | {"timestamp": "2026-11-25T01:00:00.000000Z"}),  # the warm-up's
        "a line that is not JSON (a library printing to stderr)",
        json.dumps({"event": "call_started", "timestamp": "2026-11-25T01:00:05Z"}),
        json.dumps(stall | {"timestamp": "2026-11-25T01:00:12.500000Z"}),
    ]
    log.write_text("\n".join(lines) + "\n")
    began = datetime(2026, 11, 25, 1, 0, 2, tzinfo=UTC).timestamp()
    (found,) = stalls_logged(log, began)
    assert found == {"at_s": 10.5} | {k: v for k, v in stall.items() if k != "event"}
    result = SoakResult(minutes=1, calls=1, media_calls=1, warmup_s=20, stalls=[found])
    assert result.summary()["bridge_loop_stalls"] == 1
