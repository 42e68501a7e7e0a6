"""``bridge bench --soak MINUTES``: conversational and media-only calls, redialled for a long
time, while the bridge's ``/v1/status`` and ``/metrics`` are sampled. Reports memory growth
after the warm-up (the first minute, or the first third of a run shorter than three minutes),
whether tasks and descriptors came back to their idle count once the calls ended, and the late
frames the callers heard.

Growth in resident memory alone does not say "leak": it also moves when malloc keeps freed
memory for reuse or the kernel pages in more of a model file. So each figure of
:mod:`bridge.doors.memory` is reported from the end of the warm-up to the end of the load,
with RSS's slope (least squares, MB per minute): memory in use (malloc's and Python's) that
keeps climbing is a leak; RSS that climbs while memory in use stays flat is the allocator.

Late frames are split by where they come from: the callers' late frames (audio that arrived
after the caller's playout ran dry) by kind of call (conversational ones wait on speech
synthesis, media-only ones on nothing but the event loops), the bridge's own
(``bridge_late_frames``: a frame that was ready but sent after the caller ran dry, a stalled
event loop), the bridge's event-loop lag (``bridge_event_loop_lag_seconds``) and the lag of
this process's loop, where the simulated callers run.

The idle count is taken after a warm-up round at full concurrency (every caller once, briefly),
so pools that are meant to stay (the LLM client's keep-alive connections, engine threads) are
part of it and only what calls leave behind shows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bridge.bench.run import ANSWER, QUESTIONS, _shared_tts, hold_music_dialplan, local_bridge
from bridge.caller.caller import Listen, Say, SimulatedCaller, Step
from bridge.caller.dial import dial_websocket
from bridge.caller.wires import twilio_wire
from bridge.pipeline.engines import freeze_long_lived_objects
from bridge.testing.llm_server import Reply, Rule, ScriptedLLM
from bridge.testing.serve import serve_app

ORDER_STRIDE = 389  # prime to 900: the answers' order numbers visit every one of 100-999
MEDIA_CALL_S = 20.0  # each media-only call listens to this much hold music, then redials
SETTLE_S = 30.0  # how long the bridge gets to release everything once the calls end
LAG_PROBE_S = 0.02  # this process's loop-lag probe: one caller tick
LAG_REPORTED_S = 0.05  # loop lag above this is counted (the bridge's probe has a bucket here)
STALL_LOGGED_MS = 50  # the bridge logs each loop stall longer than this, with its stack
MEMORY_FIGURES = ("anon_mb", "malloc_in_use_mb", "malloc_free_mb", "python_blocks", "traced_mb")


@dataclass
class Sample:
    at_s: float
    rss_mb: float
    tasks: int
    open_fds: int
    live: int
    memory: dict[str, float] = field(default_factory=dict)  # /v1/status "memory"
    late_frames: int = 0  # the bridge's bridge_late_frames_total so far
    lag_over: int = 0  # bridge loop-lag probes over LAG_REPORTED_S so far
    lag_max_s: float = 0.0  # upper bound of the highest loop-lag bucket reached so far
    loop_thread: dict[str, float] | None = None  # /v1/status "loop_thread": cpu_s, waiting_s


@dataclass
class LoopLag:
    """Lag of this process's event loop (where the simulated callers tick)."""

    probes: int = 0
    over: int = 0  # probes later than LAG_REPORTED_S
    max_s: float = 0.0

    async def watch(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(LAG_PROBE_S)
            lag = time.perf_counter() - started - LAG_PROBE_S
            self.probes += 1
            self.over += lag > LAG_REPORTED_S
            self.max_s = max(self.max_s, lag)


def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of ``(seconds, value)`` points, per minute."""
    if len(points) < 2:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if not spread:
        return None
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / spread


@dataclass
class SoakResult:
    minutes: float
    calls: int
    media_calls: int
    warmup_s: float
    samples: list[Sample] = field(default_factory=list)
    idle: Sample | None = None  # before the soak, after the warm-up round
    after: Sample | None = None  # once the calls had ended and the bridge settled
    calls_done: int = 0
    turns: int = 0
    unanswered: int = 0
    late_frames: int = 0
    late_frames_media: int = 0  # of late_frames, those of media-only calls
    failed_calls: int = 0
    missed_samples: int = 0  # /v1/status polls that timed out under load
    bench_lag: LoopLag = field(default_factory=LoopLag)
    load_average: list[float] = field(default_factory=list)  # 1-minute, at start and at end
    stalls: list[dict[str, Any]] = field(default_factory=list)  # the bridge's, under load

    def summary(self) -> dict[str, Any]:
        # Growth is measured over the load: from the end of the warm-up to the last sample
        # taken while the calls were still being redialled.
        late = [s for s in self.samples[:-1] if s.at_s >= self.warmup_s]
        start, end = (late[0], late[-1]) if late else (None, None)
        slope = slope_per_minute([(s.at_s, s.rss_mb) for s in late])
        first = self.samples[0] if self.samples else None
        last = self.samples[-1] if self.samples else None
        return {
            "minutes": self.minutes,
            # The machine's: on two cores, anything near 2 or above makes timing figures noise.
            "load_average_at_start": self.load_average[0] if self.load_average else None,
            "load_average_at_end": self.load_average[-1] if self.load_average else None,
            "conversational_calls": self.calls,
            "media_only_calls": self.media_calls,
            "calls_completed": self.calls_done,
            "failed_calls": self.failed_calls,
            "missed_samples": self.missed_samples,
            "turns": self.turns,
            "unanswered_turns": self.unanswered,
            "late_frames": self.late_frames,
            "late_frames_conversational": self.late_frames - self.late_frames_media,
            "late_frames_media_only": self.late_frames_media,
            "bridge_late_frames": last.late_frames - first.late_frames if first and last else None,
            "bridge_loop_lag_over_50ms": last.lag_over - first.lag_over if first and last else None,
            "bridge_loop_lag_max_ms": round(1000 * last.lag_max_s) if last else None,
            **self._loop_thread(first, last),
            "bridge_loop_stalls": len(self.stalls),
            "bench_loop_lag_over_50ms": self.bench_lag.over,
            "bench_loop_lag_max_ms": round(1000 * self.bench_lag.max_s),
            "rss_after_warmup_mb": start.rss_mb if start else None,
            "rss_end_mb": end.rss_mb if end else None,
            "rss_peak_mb": max(s.rss_mb for s in late) if late else None,
            "rss_growth_mb": round(end.rss_mb - start.rss_mb, 1) if start and end else None,
            "rss_slope_mb_per_min": round(slope, 2) if slope is not None else None,
            **{f"{name}_growth": _growth(start, end, name) for name in MEMORY_FIGURES},
            "threads_after_warmup": start.memory.get("threads") if start else None,
            "threads_end": end.memory.get("threads") if end else None,
            "rss_after_calls_mb": self.after.rss_mb if self.after else None,
            "idle_tasks": self.idle.tasks if self.idle else None,
            "tasks_after": self.after.tasks if self.after else None,
            "idle_open_fds": self.idle.open_fds if self.idle else None,
            "open_fds_after": self.after.open_fds if self.after else None,
            "back_to_idle": self.back_to_idle,
        }

    @staticmethod
    def _loop_thread(first: Sample | None, last: Sample | None) -> dict[str, float | None]:
        """Fractions of the load's wall time the bridge's loop thread ran and waited for a
        CPU: lag while it mostly waited is the machine, lag while it mostly ran the bridge."""
        busy = waiting = None
        if first and last and first.loop_thread and last.loop_thread and last.at_s > first.at_s:
            wall = last.at_s - first.at_s
            busy = round((last.loop_thread["cpu_s"] - first.loop_thread["cpu_s"]) / wall, 2)
            waiting = (last.loop_thread["waiting_s"] - first.loop_thread["waiting_s"]) / wall
            waiting = round(waiting, 2)
        return {"bridge_loop_thread_busy": busy, "bridge_loop_thread_waiting_for_cpu": waiting}

    @property
    def back_to_idle(self) -> bool:
        idle, after = self.idle, self.after
        return (
            idle is not None
            and after is not None
            and after.live == 0
            and after.tasks <= idle.tasks
            and after.open_fds <= idle.open_fds
        )

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "raw": asdict(self)}


def _growth(start: Sample | None, end: Sample | None, name: str) -> float | None:
    if start is None or end is None or name not in start.memory or name not in end.memory:
        return None
    return round(end.memory[name] - start.memory[name], 1)


def stalls_logged(log: Path, since: float) -> list[dict[str, Any]]:
    """The bridge's ``event_loop_stalled`` lines (JSON) logged after ``since`` (epoch s),
    each with ``at_s``: seconds after ``since``."""
    stalls = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("event") != "event_loop_stalled":
            continue
        at = datetime.fromisoformat(entry["timestamp"]).timestamp() - since
        if at >= 0:
            fields = ("stalled_ms", "running_ms", "waiting_for_cpu_ms", "off_cpu_ms", "stack")
            stalls.append({"at_s": round(at, 1)} | {k: entry.get(k) for k in fields})
    return stalls


def warmup_s(minutes: float) -> float:
    return min(60.0, minutes * 60 / 3)


def _metrics(text: str) -> tuple[int, int, float]:
    """From /metrics: late frames, loop-lag probes over LAG_REPORTED_S, the highest lag
    bucket reached (its upper bound, seconds; the last finite bound when over all)."""
    late, total, under, highest = 0.0, 0.0, 0.0, 0.0
    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "bridge_late_frames_total":
                late = sample.value
            elif sample.name == "bridge_event_loop_lag_seconds_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
    buckets.sort()
    for bound, count in buckets:
        if bound <= LAG_REPORTED_S:
            under = count
        total = max(total, count)
    for bound, count in buckets:
        if count >= total:
            highest = bound if bound != float("inf") else max(b for b, _ in buckets[:-1])
            break
    return int(late), int(total - under), highest


async def _status(http: httpx.AsyncClient, url: str, started: float) -> Sample:
    body = (await http.get(f"{url}/v1/status")).json()
    late, lag_over, lag_max_s = _metrics((await http.get(f"{url}/metrics")).text)
    return Sample(
        round(time.monotonic() - started, 1),
        body["rss_mb"],
        body["tasks"],
        body["open_fds"],
        body["live_total"],
        body.get("memory", {}),
        late,
        lag_over,
        lag_max_s,
        body.get("loop_thread"),
    )


async def _call(url: str, steps: list[Step], parameters: dict[str, str]) -> tuple[Any, int]:
    wire = twilio_wire(parameters)
    async with dial_websocket(url.replace("http://", "ws://") + "/twilio/media") as transport:
        caller = SimulatedCaller(wire, transport, tts=_shared_tts(), stt=None, reply_timeout_s=15)
        reports = await caller.run(steps)
    return reports, caller.playback.underruns


def _tally(result: SoakResult, outcome: tuple[Any, int], media: bool) -> None:
    reports, underruns = outcome
    result.calls_done += 1
    result.late_frames += underruns
    result.late_frames_media += underruns if media else 0
    for report in reports:
        if report.step.startswith("say"):
            result.turns += 1
            result.unanswered += report.latency_ms is None


async def _caller(
    url: str, index: int, media: bool, until: float, result: SoakResult, delay_s: float = 0.0
) -> None:
    """Call, hang up, call again, until ``until`` (monotonic); the first call after
    ``delay_s``."""
    parameters = {"From": f"+1555{index:07d}"} | ({"soak": "media"} if media else {})
    await asyncio.sleep(delay_s)
    for turn in itertools.count():
        if time.monotonic() >= until:
            return
        steps: list[Step]
        if media:
            steps = [Listen(for_s=MEDIA_CALL_S)]
        else:
            steps = [Say(QUESTIONS[(index + turn + t) % len(QUESTIONS)]) for t in range(3)]
        try:
            _tally(result, await _call(url, steps, parameters), media)
        except Exception:  # a call the bridge refused or dropped: counted, and redialled
            result.failed_calls += 1


async def _idle(http: httpx.AsyncClient, url: str, started: float) -> Sample:
    """The idle count: no call live, the lowest tasks and descriptors seen over a second."""
    deadline = time.monotonic() + SETTLE_S
    sample = await _status(http, url, started)
    while sample.live and time.monotonic() < deadline:
        await asyncio.sleep(0.2)  # another process: polling is the only way to watch it
        sample = await _status(http, url, started)
    for _ in range(5):
        await asyncio.sleep(0.2)
        later = await _status(http, url, started)
        sample.tasks = min(sample.tasks, later.tasks)
        sample.open_fds = min(sample.open_fds, later.open_fds)
    return sample


async def _settle(http: httpx.AsyncClient, url: str, started: float, idle: Sample) -> Sample:
    """The bridge's state once it has released what the calls held (or SETTLE_S has passed)."""
    deadline = time.monotonic() + SETTLE_S
    while True:  # another process: polling is the only way to watch it
        sample = await _status(http, url, started)
        settled = sample.live == 0 and sample.tasks <= idle.tasks
        if (settled and sample.open_fds <= idle.open_fds) or time.monotonic() >= deadline:
            return sample
        await asyncio.sleep(0.2)


async def run_soak(
    *, minutes: float, calls: int = 10, media_calls: int = 50, sample_s: float = 5.0
) -> SoakResult:
    # Each answer's order number is fresh (no clause is in the speech cache), and they come
    # in an order that mixes short and long spellings ("one hundred", "seven hundred and
    # seventy-seven") from the start, so the warm-up sees clauses as long as the rest of the
    # run does (counting up, they grew longer all the way).
    answers = (100 + (k * ORDER_STRIDE) % 900 for k in itertools.count())
    llm = ScriptedLLM(rules=[Rule(r".", lambda _: Reply(ANSWER.format(n=next(answers))))])
    result = SoakResult(minutes, calls, media_calls, warmup_s(minutes))
    _shared_tts()
    freeze_long_lived_objects()  # the callers' loop, like the bridge's, skips the voice in a GC
    with tempfile.TemporaryDirectory() as folder:
        plans = Path(folder) / "dialplans"
        plans.mkdir()
        hold = hold_music_dialplan(Path(folder), MEDIA_CALL_S)
        (plans / "hold.yaml").write_text(hold.read_text() + "route: {parameter: {soak: media}}\n")
        env = {
            "BRIDGE_MAX_SESSIONS": str(max(100, 2 * (calls + media_calls))),
            "BRIDGE_DIALPLANS_DIR": str(plans),
            "BRIDGE_LOG_TRANSCRIPTS": "false",
            "BRIDGE_LOG_FORMAT": "json",
            "BRIDGE_LOOP_STALL_MS": str(STALL_LOGGED_MS),
        }
        log = Path(folder) / "bridge.log"
        async with (
            serve_app(llm.app()) as llm_url,
            local_bridge(llm_url, env, log) as (url, _pid, _ready_s),
            httpx.AsyncClient(timeout=10) as http,
        ):
            started = time.monotonic()
            # A warm-up round at full concurrency; the idle count is taken after it.
            await asyncio.gather(
                *(_call(url, [Say(QUESTIONS[i % len(QUESTIONS)])], {}) for i in range(calls)),
                *(_call(url, [Listen(for_s=1.0)], {"soak": "media"}) for _ in range(media_calls)),
            )
            idle = result.idle = await _idle(http, url, started)
            lag_probe = asyncio.create_task(result.bench_lag.watch())
            result.load_average.append(round(os.getloadavg()[0], 2))
            started, load_started = time.monotonic(), time.time()
            until = started + minutes * 60
            # Calls arrive spread over one media call's length, as on a real line: dialled all
            # at once, the 50 media calls would hang up and redial together every 20 s.
            spread = MEDIA_CALL_S / (calls + media_calls)
            callers = [
                asyncio.create_task(_caller(url, i, i >= calls, until, result, i * spread))
                for i in range(calls + media_calls)
            ]
            while time.monotonic() < until:
                try:
                    result.samples.append(await _status(http, url, started))
                except httpx.TimeoutException:  # a starved machine: skip it, do not end the soak
                    result.missed_samples += 1
                await asyncio.sleep(sample_s)
            await asyncio.gather(*callers)
            result.samples.append(await _status(http, url, started))
            lag_probe.cancel()
            result.load_average.append(round(os.getloadavg()[0], 2))
            result.after = await _settle(http, url, started, idle)
        result.stalls = stalls_logged(log, load_started)
    return result
