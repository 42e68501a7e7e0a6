"""``bridge bench --ramp``: how many simultaneous conversational calls one bridge holds.

Levels of ``start``, ``start + step``, ... simultaneous calls run one after another against one
bridge (started here, or at ``--url``); each level's calls talk ``turns`` turns at once. The
ramp stops at the first level whose turn-gap p95 passes the limit (1 s) or that leaves a turn
unanswered; the calls held is the last level within it. Each level also reports the bridge's
per-stage latency (from its ``/metrics``: STT, its queue, LLM first token, TTS first audio),
its CPU share when the bench started it, and GPU utilisation and memory where a GPU can be read.

The simulated callers cost CPU too (Piper voices, 20 ms pacing): ``caller_processes`` spreads
them over worker processes, and ``caller_cpus`` / ``server_cpus`` pin the two sides to separate
cores, so the callers do not eat the cores the bridge is measured on. For a bridge elsewhere,
``--url`` sends the calls there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from typing import Any

import httpx

from bridge.bench.gpu import GpuSampler
from bridge.bench.run import ANSWER, STORY, _one_call, _pct, _proc_cpu_s, local_bridge
from bridge.bench.stages import stage_latencies
from bridge.testing.llm_server import Reply, Rule, ScriptedLLM
from bridge.testing.serve import serve_app

P95_LIMIT_MS = 1000.0


@dataclass
class RampLevel:
    calls: int
    turn_gaps_ms: list[float] = field(default_factory=list)
    unanswered: int = 0
    late_frames: int = 0
    wall_s: float = 0.0
    server_cpu_share: float | None = None  # cores' worth the bridge used during the level
    stages: dict[str, Any] = field(default_factory=dict)
    gpu: dict[str, Any] = field(default_factory=dict)

    @property
    def p95_ms(self) -> float | None:
        return _pct(sorted(self.turn_gaps_ms), 95)

    def held(self, limit_ms: float) -> bool:
        p95 = self.p95_ms
        return p95 is not None and p95 <= limit_ms and not self.unanswered

    def summary(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "turns": len(self.turn_gaps_ms),
            "turn_gap_p50_ms": _pct(sorted(self.turn_gaps_ms), 50),
            "turn_gap_p95_ms": self.p95_ms,
            "unanswered_turns": self.unanswered,
            "late_frames": self.late_frames,
            "server_cpu_share": self.server_cpu_share,
            "stages": self.stages,
            **self.gpu,
            "wall_s": round(self.wall_s, 1),
        }


@dataclass
class RampResult:
    limit_ms: float
    levels: list[RampLevel] = field(default_factory=list)

    @property
    def calls_held(self) -> int:
        """The most calls of a level within the limit, before the first level beyond it."""
        held = 0
        for level in self.levels:
            if not level.held(self.limit_ms):
                break
            held = level.calls
        return held

    def summary(self) -> dict[str, Any]:
        return {
            "calls_held": self.calls_held,
            "p95_limit_ms": self.limit_ms,
            "levels": [level.summary() for level in self.levels],
        }

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "raw": [asdict(level) for level in self.levels]}


def ramp_table(result: RampResult) -> str:
    rows = [
        f"{'calls':>5} {'p50 ms':>7} {'p95 ms':>7} {'unans':>5} {'cpu':>5} "
        f"{'stt p95':>7} {'wait p95':>8} {'llm p95':>7} {'tts p95':>7}  gpu"
    ]

    def num(value: Any) -> str:
        return "-" if value is None else f"{value:.0f}"

    def stage(level: RampLevel, name: str) -> str:
        return num(level.stages.get(name, {}).get("p95_ms"))

    for level in result.levels:
        s = level.summary()

        cpu = "-" if level.server_cpu_share is None else f"{level.server_cpu_share:.2f}"
        gpu = level.gpu.get("gpu", "")
        if "gpu_util_mean_pct" in level.gpu:
            gpu = (
                f"{level.gpu['gpu_util_mean_pct']:.0f}% util, "
                f"{level.gpu['gpu_memory_max_mb']:.0f} MB"
            )
        rows.append(
            f"{level.calls:>5} {num(s['turn_gap_p50_ms']):>7} {num(s['turn_gap_p95_ms']):>7} "
            f"{level.unanswered:>5} {cpu:>5} {stage(level, 'stt'):>7} "
            f"{stage(level, 'stt_wait'):>8} {stage(level, 'llm_first_token'):>7} "
            f"{stage(level, 'tts_first_audio'):>7}  {gpu}"
        )
    rows.append(
        f"calls held at turn-gap p95 <= {result.limit_ms:.0f} ms: {result.calls_held}"
        + (" (the first level already missed)" if not result.calls_held else "")
    )
    return "\n".join(rows)


async def _calls(url: str, turns: int, indices: list[int]) -> list[tuple[list[Any], int]]:
    return await asyncio.gather(*(_one_call(url, turns, i, False, 0.0) for i in indices))


def _caller_process(url: str, turns: int, indices: list[int]) -> tuple[list[float], int, int]:
    """One worker process's share of a level: (turn gaps, unanswered, late frames)."""
    outcomes = asyncio.run(_calls(url, turns, indices))
    return _tally(outcomes)


def _tally(outcomes: list[tuple[list[Any], int]]) -> tuple[list[float], int, int]:
    gaps: list[float] = []
    unanswered = late = 0
    for reports, underruns in outcomes:
        late += underruns
        for report in reports:
            if report.latency_ms is None:
                unanswered += 1
            else:
                gaps.append(report.latency_ms)
    return gaps, unanswered, late


async def _place(
    url: str, calls: int, turns: int, pool: ProcessPoolExecutor | None, processes: int
) -> tuple[list[float], int, int]:
    if pool is None:
        return _tally(await _calls(url, turns, list(range(calls))))
    loop = asyncio.get_running_loop()
    shares = [list(range(calls))[k::processes] for k in range(processes)]
    parts = await asyncio.gather(
        *(loop.run_in_executor(pool, _caller_process, url, turns, s) for s in shares if s)
    )
    gaps = [gap for part in parts for gap in part[0]]
    return gaps, sum(p[1] for p in parts), sum(p[2] for p in parts)


def levels(start: int, step: int, most: int) -> list[int]:
    if start < 1 or step < 1 or most < start:
        raise ValueError("a ramp needs 1 <= start <= max and a step of at least 1")
    return list(range(start, most + 1, step))


async def run_ramp(
    *, start: int = 2, step: int = 2, most: int = 400, turns: int = 3, url: str | None = None,
    env: dict[str, str] | None = None, limit_ms: float = P95_LIMIT_MS, caller_processes: int = 0,
    server_cpus: set[int] | None = None,
) -> RampResult:  # fmt: skip
    """Ramp until a level's turn-gap p95 passes ``limit_ms``. ``caller_processes`` 0: the
    callers run in this process; N: spread over N worker processes."""
    answers = itertools.count(100)
    fresh = Rule(r".", lambda _: Reply(ANSWER.format(n=next(answers))))
    llm = ScriptedLLM(rules=[Rule(r"story", Reply(STORY)), fresh])
    result = RampResult(limit_ms=limit_ms)
    plan = levels(start, step, most)
    async with contextlib.AsyncExitStack() as stack:
        llm_url = await stack.enter_async_context(serve_app(llm.app()))
        pid: int | None = None
        if url is None:
            server_env = {"BRIDGE_MAX_CALLS": str(max(plan)), **(env or {})}
            target, started_pid, _ = await stack.enter_async_context(
                local_bridge(llm_url, server_env)
            )
            pid = started_pid
            if server_cpus:
                os.sched_setaffinity(started_pid, server_cpus)
        else:
            target = url
        pool = None
        if caller_processes > 0:
            pool = stack.enter_context(
                ProcessPoolExecutor(caller_processes, mp_context=get_context("spawn"))
            )
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        for calls in plan:
            level = RampLevel(calls=calls)
            before = (await http.get(f"{target}/metrics")).text
            cpu_before = _proc_cpu_s(pid) if pid else None
            started = time.monotonic()
            async with GpuSampler() as gpu:
                gaps, level.unanswered, level.late_frames = await _place(
                    target, calls, turns, pool, caller_processes
                )
            level.wall_s = time.monotonic() - started
            level.turn_gaps_ms = gaps
            if pid is not None and cpu_before is not None:
                level.server_cpu_share = round((_proc_cpu_s(pid) - cpu_before) / level.wall_s, 2)
            level.stages = stage_latencies(before, (await http.get(f"{target}/metrics")).text)
            level.gpu = gpu.summary()
            result.levels.append(level)
            if not level.held(limit_ms):
                break
    return result
