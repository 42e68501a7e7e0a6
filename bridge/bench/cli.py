"""``bridge bench``: run the benchmark and print a table, JSON and a PNG histogram."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from bridge.bench.png import histogram_png
from bridge.bench.run import BenchResult, run_bench
from bridge.bench.soak import SoakResult, run_soak

TARGETS = {"turn_gap_p50_ms": 800, "turn_gap_p95_ms": 1200, "turn_gap_max_ms": 2000,
           "barge_in_max_ms": 200, "cold_start_s": 10}  # fmt: skip


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--calls", type=int, default=4, help="simultaneous calls (default: %(default)s)"
    )
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
        "--webrtc", action="store_true",
        help="also bench /v1/realtime calls over WebRTC (aiortc callers) after the Twilio "
        "calls, each on a fresh bridge, and print both side by side",
    )  # fmt: skip
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON here")
    parser.add_argument("--png", metavar="FILE", help="also write a turn-gap histogram (PNG) here")


def table(result: BenchResult | SoakResult) -> str:
    rows = []
    for key, value in result.summary().items():
        if isinstance(value, dict):
            shown = ", ".join(f"{k} {v:.1%}" for k, v in value.items())
        else:
            shown = (
                "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
            )
        target = TARGETS.get(key)
        verdict = ""
        if target is not None and isinstance(value, int | float):
            verdict = f"  (target <= {target}: {'ok' if value <= target else 'MISSED'})"
        rows.append(f"{key:<22} {shown}{verdict}")
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
    if args.soak:
        soak = run(run_soak(minutes=args.soak, calls=args.calls, media_calls=args.media_calls))
        print(table(soak))
        if args.json:
            Path(args.json).write_text(json.dumps(soak.to_json(), indent=2))
        return 0 if soak.back_to_idle and not soak.late_frames else 1
    results = [
        run(
            run_bench(
                calls=args.calls,
                turns=args.turns,
                url=args.url,
                barge_in=not args.no_barge_in and not args.media_only,
                media_only_s=args.media_only,
                webrtc=webrtc,
            )
        )
        for webrtc in ((False, True) if getattr(args, "webrtc", False) else (False,))
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
