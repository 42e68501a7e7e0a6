"""``bridge bench``: run the benchmark (or its soak or turn-taking modes) and print a table,
JSON and a PNG histogram."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

from bridge.bench.png import histogram_png
from bridge.bench.ramp import ramp_table, run_ramp
from bridge.bench.run import BenchResult, run_transports
from bridge.bench.soak import SoakResult, run_soak
from bridge.bench.stt_throughput import run_stt_throughput
from bridge.bench.turn_run import EAGERNESS, TurnBenchResult, TurnDetection, run_turn_bench
from bridge.config import Settings

TARGETS = {"turn_gap_p50_ms": 800, "turn_gap_p95_ms": 1200, "turn_gap_max_ms": 2000,
           "barge_in_max_ms": 200, "cold_start_s": 10}  # fmt: skip
# Issue #15's turn-taking targets (2-core CPU, bundled models, instant local LLM, 2 calls).
TURN_TARGETS = {"false_cutoff_rate": 0.10, "question_turn_gap_p50_ms": 450,
                "question_turn_gap_p95_ms": 550, "false_interruption_rate": 0.10,
                "missed_interruptions": 0, "stop_latency_p95_ms": 300,
                "cpu_share_per_call": 0.10}  # fmt: skip


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--calls", type=int, default=None,
        help="simultaneous calls (default: 4, or 2 with --turn-taking)",
    )  # fmt: skip
    parser.add_argument(
        "--turns", type=int, default=5, help="spoken turns per call (default: %(default)s)"
    )
    parser.add_argument(
        "--url",
        help="bench a running bridge at this http:// URL instead of starting one "
        "(its LLM answers then)",
    )
    parser.add_argument(
        "--no-barge-in", action="store_true", help="skip the barge-in turn of each call"
    )
    parser.add_argument(
        "--media-only", type=float, default=0.0, metavar="SECONDS",
        help="calls only stream audio for this long (no speech): the media path's cost "
        "(default: off)",
    )  # fmt: skip
    parser.add_argument(
        "--soak", type=float, default=0.0, metavar="MINUTES",
        help="redial --calls conversational and --media-calls media-only calls for this long, "
        "sampling the bridge's memory, tasks and descriptors (default: off)",
    )  # fmt: skip
    parser.add_argument(
        "--media-calls", type=int, default=50,
        help="media-only calls beside the conversational ones in a soak (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--ramp", action="store_true",
        help="ramp simultaneous calls from --calls up by --ramp-step until the turn-gap p95 "
        "passes 1 s; report the calls held, per-stage latency and GPU use",
    )  # fmt: skip
    parser.add_argument(
        "--ramp-step", type=int, default=4, help="calls added per ramp level (default: %(default)s)"
    )
    parser.add_argument(
        "--ramp-max", type=int, default=400, help="the ramp's last level (default: %(default)s)"
    )
    parser.add_argument(
        "--ramp-limit-ms", type=float, default=1000.0,
        help="the turn-gap p95 a ramp level must stay within (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--caller-processes", type=int, default=0, metavar="N",
        help="ramp: run the simulated callers in N worker processes (default: in this one)",
    )  # fmt: skip
    parser.add_argument(
        "--server-cpus", type=_cpus, metavar="LIST",
        help="ramp: pin the bridge the bench starts to these CPUs (e.g. 0-11)",
    )  # fmt: skip
    parser.add_argument(
        "--caller-cpus", type=_cpus, metavar="LIST",
        help="pin the bench and its callers to these CPUs (e.g. 12-15)",
    )  # fmt: skip
    parser.add_argument(
        "--stt-batch", type=int, default=0, metavar="N",
        help="transcribe N turns one by one, then batched (BRIDGE_STT_* settings): time and "
        "whether the text is the same (default: off)",
    )  # fmt: skip
    parser.add_argument(
        "--bridge-env", "--server-env", dest="bridge_env", action="append", default=[],
        metavar="NAME=VALUE",
        help="a setting for the bridge the bench starts, in every mode (repeatable), e.g. "
        "BRIDGE_STT_BATCH=on",
    )  # fmt: skip
    parser.add_argument(
        "--webrtc", action="store_true",
        help="also bench /v1/realtime calls over WebRTC (aiortc callers), --calls of each, "
        "and print both side by side: together on one bridge (turns compared under the same "
        "load), or with --media-only one transport after the other (CPU per call of each)",
    )  # fmt: skip
    turns = parser.add_argument_group("turn-taking (--turn-taking)")
    turns.add_argument(
        "--turn-taking", action="store_true",
        help="speak the turn-taking test set instead: mid-turn pauses, complete questions, "
        "backchannels and interruptions over a long answer",
    )  # fmt: skip
    turns.add_argument(
        "--short", action="store_true", help="only a few items of each kind (what CI runs)"
    )
    turns.add_argument(
        "--turn-detection", choices=("server_vad", "semantic_vad"), default="semantic_vad",
        help="the end-of-turn strategy to measure (default: %(default)s)",
    )  # fmt: skip
    turns.add_argument(
        "--silence-ms", type=int, default=None,
        help="server_vad: the silence that ends a turn, as BRIDGE_VAD_SILENCE_MS (default: "
        "the bridge's default; the bench's bridge ignores this shell's BRIDGE_* variables)",
    )  # fmt: skip
    turns.add_argument(
        "--eagerness", choices=EAGERNESS, default="auto",
        help="semantic_vad: how eager to answer (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON here")
    parser.add_argument(
        "--png", metavar="FILE",
        help="also write a turn-gap histogram (PNG) here (--turn-taking: complete questions)",
    )  # fmt: skip


def _cpus(text: str) -> set[int]:
    """``0-3,6`` -> {0, 1, 2, 3, 6}."""
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            first, _, last = part.partition("-")
            cpus.update(range(int(first), int(last or first) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a CPU list: {text!r} (write 0-3,6)") from None
    return cpus


def table(result: BenchResult | SoakResult | TurnBenchResult) -> str:
    targets = TURN_TARGETS if isinstance(result, TurnBenchResult) else TARGETS
    rows = []
    summary = result.summary()
    width = max(22, *(len(key) for key in summary))
    for key, value in summary.items():
        if isinstance(value, dict):
            shown = ", ".join(f"{k} {v:.1%}" for k, v in value.items())
        else:
            shown = (
                "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
            )
        target = targets.get(key)
        verdict = ""
        if target is not None and isinstance(value, int | float):
            verdict = f"  (target <= {target}: {'ok' if value <= target else 'MISSED'})"
        rows.append(f"{key:<{width}} {shown}{verdict}")
    return "\n".join(rows)


def side_by_side(results: list[BenchResult]) -> str:
    """One row per figure, one column per transport."""
    summaries = [r.summary() for r in results]
    rows = []
    for key in summaries[0]:
        cells = []
        for summary in summaries:
            value = summary[key]
            if isinstance(value, dict):
                cells.append(" ".join(f"{k}={v:.1%}" for k, v in value.items()))
            elif isinstance(value, float):
                cells.append(f"{value:.3f}")
            else:
                cells.append("-" if value is None else str(value))
        rows.append(f"{key:<22} " + "  ".join(f"{c:<24}" for c in cells).rstrip())
    return "\n".join(rows)


def run_bench_command(args: argparse.Namespace, settings: Any = None) -> int:
    # The bench's own HTTP polls and its test LLM's access lines would bury the table.
    for name in ("httpx", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # A hundred simulated callers tick every 20 ms in this one process: on uvloop they cost
    # the machine (which the bridge shares) far less.
    try:
        import uvloop

        run: Any = uvloop.run
    except ImportError:  # uvloop is part of uvicorn[standard] on Linux and macOS only
        run = asyncio.run
    if getattr(args, "turn_taking", False):  # namespaces built by hand (tests) lack it
        return _turn_taking(args, run)
    # Namespaces built by hand (tests, older callers) may lack the newer options.
    caller_cpus = getattr(args, "caller_cpus", None)
    if caller_cpus:
        os.sched_setaffinity(0, caller_cpus)  # worker processes inherit it
    try:
        env = bridge_env(getattr(args, "bridge_env", []))
    except ValueError as exc:
        print(f"bridge bench: {exc}")
        return 2
    if getattr(args, "stt_batch", 0):
        throughput = run_stt_throughput(args.stt_batch, settings or Settings())
        for key, value in throughput.summary().items():
            print(f"{key:<22} {value}")
        if args.json:
            Path(args.json).write_text(json.dumps(throughput.summary(), indent=2))
        return 0 if throughput.same_text else 1
    calls = 4 if args.calls is None else args.calls
    if getattr(args, "ramp", False):
        ramp = run(
            run_ramp(
                start=calls, step=args.ramp_step, most=args.ramp_max, turns=args.turns,
                url=args.url, env=env, limit_ms=args.ramp_limit_ms,
                caller_processes=args.caller_processes,
                server_cpus=args.server_cpus,
            )
        )  # fmt: skip
        print(ramp_table(ramp))
        if args.json:
            Path(args.json).write_text(json.dumps(ramp.to_json(), indent=2))
        return 0 if ramp.calls_held else 1
    if args.soak:
        soak = run(run_soak(minutes=args.soak, calls=calls, media_calls=args.media_calls))
        print(table(soak))
        if args.json:
            Path(args.json).write_text(json.dumps(soak.to_json(), indent=2))
        return 0 if soak.back_to_idle and not soak.late_frames else 1
    runs: list[tuple[str, ...]] = [("twilio",)]
    if getattr(args, "webrtc", False):
        # Turns are compared under the same load; the media path's CPU, one transport at a time.
        runs = [("twilio",), ("webrtc",)] if args.media_only else [("twilio", "webrtc")]
    results = [
        result
        for transports in runs
        for result in run(
            run_transports(
                transports=transports,
                calls=calls,
                turns=args.turns,
                url=args.url,
                barge_in=not args.no_barge_in and not args.media_only,
                media_only_s=args.media_only,
                env=env,
            )
        )
    ]
    if len(results) > 1:
        print(side_by_side(results))
        if args.json:
            Path(args.json).write_text(json.dumps([r.to_json() for r in results], indent=2))
        return 0 if not any(r.unanswered for r in results) else 1
    result = results[0]
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_json(), indent=2))
    if args.png:
        Path(args.png).write_bytes(histogram_png(result.turn_gaps_ms, marks_ms=(800, 1200)))
    return 0 if not result.unanswered else 1


def bridge_env(pairs: list[str]) -> dict[str, str]:
    """``--bridge-env NAME=VALUE`` pairs; a ValueError names a malformed one."""
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip().startswith("BRIDGE_"):
            raise ValueError(f"--bridge-env expects BRIDGE_NAME=VALUE, got {pair!r}")
        env[name.strip()] = value
    return env


def _turn_taking(args: argparse.Namespace, run: Any) -> int:
    if args.url or args.media_only or args.soak:
        print("bridge bench: --turn-taking starts its own bridge (its LLM answers by script); "
              "it does not combine with --url, --media-only or --soak")  # fmt: skip
        return 2
    detection = TurnDetection(args.turn_detection, args.silence_ms, args.eagerness)
    try:
        env = bridge_env(args.bridge_env)
        detection.env()  # a strategy this bridge cannot choose fails before anything starts
    except ValueError as exc:
        print(f"bridge bench: {exc}")
        return 2
    calls = 2 if args.calls is None else args.calls
    result = run(run_turn_bench(calls=calls, short=args.short, detection=detection, env=env))
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_json(), indent=2))
    if args.png:
        gaps = [item.turn_gap_ms for item in result.items if item.kind == "question"]
        Path(args.png).write_bytes(
            histogram_png([gap for gap in gaps if gap is not None], marks_ms=(450, 550))
        )
    return 0 if result.complete else 1
