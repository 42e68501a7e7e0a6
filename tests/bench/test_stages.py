"""Per-stage latency from two /metrics scrapes."""

from __future__ import annotations

import pytest

from bridge.bench.stages import Histogram, stage_latencies

METRICS_BEFORE = """\
# TYPE bridge_stt_seconds histogram
bridge_stt_seconds_bucket{le="0.1"} 1.0
bridge_stt_seconds_bucket{le="0.2"} 1.0
bridge_stt_seconds_bucket{le="0.4"} 2.0
bridge_stt_seconds_bucket{le="+Inf"} 2.0
bridge_stt_seconds_count 2.0
bridge_stt_seconds_sum 0.35
"""
METRICS_AFTER = """\
# TYPE bridge_stt_seconds histogram
bridge_stt_seconds_bucket{le="0.1"} 1.0
bridge_stt_seconds_bucket{le="0.2"} 11.0
bridge_stt_seconds_bucket{le="0.4"} 21.0
bridge_stt_seconds_bucket{le="+Inf"} 22.0
bridge_stt_seconds_count 22.0
bridge_stt_seconds_sum 6.35
# TYPE bridge_tts_time_to_first_audio_seconds histogram
bridge_tts_time_to_first_audio_seconds_bucket{le="0.1"} 4.0
bridge_tts_time_to_first_audio_seconds_bucket{le="+Inf"} 4.0
bridge_tts_time_to_first_audio_seconds_count 4.0
bridge_tts_time_to_first_audio_seconds_sum 0.2
"""


def test_stage_latency_is_what_happened_between_two_scrapes() -> None:
    stages = stage_latencies(METRICS_BEFORE, METRICS_AFTER)
    # 20 new STT runs: 10 in (0.1, 0.2], 9 in (0.2, 0.4], 1 beyond; 6.0 s in all.
    assert stages["stt"]["count"] == 20
    assert stages["stt"]["mean_ms"] == pytest.approx(300.0)
    assert stages["stt"]["p50_ms"] == pytest.approx(200.0)
    assert stages["stt"]["p95_ms"] == pytest.approx(400.0)
    tts = stages["tts_first_audio"]
    assert tts == {"count": 4, "mean_ms": 50.0, "p50_ms": 50.0, "p95_ms": 95.0}
    assert "llm_first_token" not in stages  # nothing happened there


def test_an_empty_histogram_has_no_quantile() -> None:
    assert Histogram().quantile(0.95) is None
