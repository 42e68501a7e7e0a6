"""Per-stage latency (STT, LLM first token, TTS first audio, turn gap) from the bridge's own
``/metrics`` histograms, read before and after a bench step: it works for a bridge the bench
started and for one at ``--url`` alike. Percentiles are estimated within the histogram's
buckets (linear interpolation, as Prometheus' ``histogram_quantile`` does)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

STAGES = {
    "stt": "bridge_stt_seconds",
    "stt_wait": "bridge_transcription_queue_wait_seconds",
    "llm_first_token": "bridge_llm_time_to_first_token_seconds",
    "tts_first_audio": "bridge_tts_time_to_first_audio_seconds",
    "turn_gap": "bridge_turn_gap_seconds",
}


@dataclass
class Histogram:
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative count
    count: float = 0.0
    total: float = 0.0

    def minus(self, before: Histogram) -> Histogram:
        return Histogram(
            {le: n - before.buckets.get(le, 0.0) for le, n in self.buckets.items()},
            self.count - before.count,
            self.total - before.total,
        )

    def quantile(self, q: float) -> float | None:
        if self.count <= 0:
            return None
        rank = q * self.count
        lower, below = 0.0, 0.0
        for le, cumulative in sorted(self.buckets.items()):
            if cumulative >= rank:
                if le == float("inf"):
                    return lower  # beyond the last bound: the bound is all we know
                share = (rank - below) / (cumulative - below) if cumulative > below else 1.0
                return lower + (le - lower) * share
            lower, below = le, cumulative
        return lower


def parse_histograms(text: str) -> dict[str, Histogram]:
    """Each stage's histogram from a ``/metrics`` body (absent stages are empty)."""
    by_name: dict[str, Histogram] = {name: Histogram() for name in STAGES.values()}
    for family in text_string_to_metric_families(text):
        histogram = by_name.get(family.name)
        if histogram is None:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                le = float(sample.labels["le"])
                histogram.buckets[le] = histogram.buckets.get(le, 0.0) + sample.value
            elif sample.name.endswith("_count"):
                histogram.count += sample.value
            elif sample.name.endswith("_sum"):
                histogram.total += sample.value
    return by_name


def stage_latencies(before: str, after: str) -> dict[str, Any]:
    """``{stage: {count, mean_ms, p50_ms, p95_ms}}`` for what happened between two scrapes."""
    old, new = parse_histograms(before), parse_histograms(after)
    out: dict[str, Any] = {}
    for stage, name in STAGES.items():
        delta = new[name].minus(old[name])
        if delta.count <= 0:
            continue
        p50, p95 = delta.quantile(0.5), delta.quantile(0.95)
        out[stage] = {
            "count": int(delta.count),
            "mean_ms": round(delta.total / delta.count * 1000, 1),
            "p50_ms": None if p50 is None else round(p50 * 1000, 1),
            "p95_ms": None if p95 is None else round(p95 * 1000, 1),
        }
    return out
