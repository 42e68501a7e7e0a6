"""Prometheus metrics for ``GET /metrics``: one registry per bridge (a Runtime), fed by the
admission step (calls by door and outcome), by :mod:`bridge.observe` (what the engine, the
pipeline and outbound media measure) and read at scrape time (live calls, capacity,
draining, model device).

Names follow Prometheus conventions: ``bridge_`` prefix, ``_seconds`` for durations,
``_total`` for counters. Live ``realtime`` entries are /v1/realtime sessions; every other door
counts phone calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridge.doors.admission import DOORS, Admission, Door, Reason
from bridge.observe import Count, Timing

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
LAG_INTERVAL_S = 0.25

TIMINGS: dict[Timing, tuple[str, str]] = {
    "turn_gap": (
        "bridge_turn_gap_seconds",
        "End of the caller's speech (VAD) to the reply's first audio.",
    ),
    "stt": ("bridge_stt_seconds", "Speech-to-text time for one turn."),
    "transcription_wait": (
        "bridge_transcription_queue_wait_seconds",
        "Time a turn's audio waited for a free speech-to-text worker.",
    ),
    "llm_first_token": (
        "bridge_llm_time_to_first_token_seconds",
        "LLM request to its first token (prefetched replies excluded).",
    ),
    "tts_first_audio": (
        "bridge_tts_time_to_first_audio_seconds",
        "A reply's first clause to its first synthesized audio.",
    ),
}


class Metrics:
    """The bridge's metrics; an :class:`~bridge.doors.admission.AdmissionObserver` and an
    :class:`~bridge.observe.Observer`."""

    def __init__(self, admission: Admission, models: Callable[[], dict[str, str] | None]) -> None:
        """``models``: labels describing the loaded models (device included), None while
        they load."""
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.started = Counter(
            "bridge_calls_started", "Calls and sessions admitted.", ["door"], registry=registry
        )
        self.ended = Counter(
            "bridge_calls_ended",
            "Calls and sessions ended, by outcome (completed, drained).",
            ["door", "outcome"],
            registry=registry,
        )
        self.refusals = Counter(
            "bridge_calls_refused",
            "Calls and sessions refused, by reason (loading, full, draining).",
            ["door", "reason"],
            registry=registry,
        )
        self.histograms = {
            name: Histogram(metric, text, buckets=LATENCY_BUCKETS, registry=registry)
            for name, (metric, text) in TIMINGS.items()
        }
        self.counts: dict[Count, Counter] = {
            "barge_in": Counter(
                "bridge_barge_ins", "Replies the caller talked over.", registry=registry
            ),
            "backchannel": Counter(
                "bridge_backchannels",
                "Sounds over a reply judged a backchannel or noise: the reply played on.",
                registry=registry,
            ),
            "late_frame": Counter(
                "bridge_late_frames",
                "Outbound audio frames sent after the caller's audio ran dry.",
                registry=registry,
            ),
        }
        self.loop_lag = Histogram(
            "bridge_event_loop_lag_seconds",
            f"How late a {LAG_INTERVAL_S:g} s timer on the event loop fires.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.full_gc = Histogram(
            "bridge_full_gc_seconds",
            "Full garbage collections (one every 5 s, on the event loop): how long each took.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        registry.register(_State(admission, models))
        for door in DOORS:
            self.started.labels(door)  # every door shows, at 0, from the first scrape

    # --- AdmissionObserver -----------------------------------------------------------------

    def admitted(self, door: Door) -> None:
        self.started.labels(door).inc()

    def refused(self, door: Door, reason: Reason) -> None:
        self.refusals.labels(door, reason).inc()

    def released(self, door: Door, outcome: str) -> None:
        self.ended.labels(door, outcome).inc()

    # --- Observer --------------------------------------------------------------------------

    def timing(self, name: Timing, seconds: float) -> None:
        self.histograms[name].observe(max(0.0, seconds))

    def count(self, name: Count, amount: int = 1) -> None:
        self.counts[name].inc(amount)

    # --- exposition and the event-loop probe -----------------------------------------------

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def watch_loop(self) -> None:
        """Measure event-loop lag until cancelled."""
        while True:
            started = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL_S)
            self.loop_lag.observe(max(0.0, time.perf_counter() - started - LAG_INTERVAL_S))


class _State(Collector):
    """Gauges read at scrape time."""

    def __init__(self, admission: Admission, models: Callable[[], dict[str, str] | None]):
        self._admission = admission
        self._models = models

    def collect(self) -> Iterator[Metric]:
        admission = self._admission
        live = GaugeMetricFamily(
            "bridge_live_calls",
            "Live calls (and /v1/realtime sessions, door=realtime) by door.",
            labels=["door"],
        )
        for door in DOORS:
            live.add_metric([door], admission.live[door])
        yield live
        yield GaugeMetricFamily(
            "bridge_capacity_calls",
            "BRIDGE_MAX_CALLS: calls and sessions taken at most.",
            value=admission.capacity,
        )
        yield GaugeMetricFamily(
            "bridge_draining", "1 while draining (no new calls).", value=int(admission.draining)
        )
        yield GaugeMetricFamily(
            "bridge_ready", "1 while the bridge takes calls.", value=int(admission.state == "ready")
        )
        models = self._models()
        if models is not None:
            info = GaugeMetricFamily(
                "bridge_model_info", "The loaded models and their devices.", labels=list(models)
            )
            info.add_metric(list(models.values()), 1)
            yield info
