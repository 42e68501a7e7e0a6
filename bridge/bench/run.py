"""Run the benchmark: start a bridge (or target one), place simultaneous simulated calls over
Twilio Media Streams against an instant local LLM, and measure what callers and the server feel.

Turn gap: the caller's last audible frame -> the first audible agent frame. Barge-in: the
caller's first audible frame over a reply -> the carrier ``clear``. Server CPU and peak memory
come from ``/proc`` for the bridge process this run started.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import numpy as np

from bridge.bench.stages import stage_latencies
from bridge.caller.caller import Listen, Say, SimulatedCaller, Step
from bridge.caller.dial import dial_websocket
from bridge.caller.wires import twilio_wire
from bridge.config import Settings
from bridge.pipeline.engines import freeze_long_lived_objects
from bridge.testing.llm_server import Reply, Rule, ScriptedLLM
from bridge.testing.serve import free_port, serve_app

DEFAULT_MAX_SESSIONS = Settings.model_fields["max_calls"].default
TOGETHER_STAGGER_S = 2.0  # between call starts when transports are compared in one run
QUESTIONS = (
    "What time do you open tomorrow morning?",
    "Can I change the delivery address for my order?",
    "Do you have any tables free on Friday evening?",
    "How much does the standard plan cost per month?",
    "Is there parking near your office in town?",
)
# Every answer differs from the first word on (the order number), so no clause of it is in the
# bridge's speech cache: the figures are those of fresh replies, as from a real LLM.
ANSWER = "Order {n} is fine, I can help with that. We open at nine, and order {n} takes a minute."
STORY = "Let me tell you a long story about our company and everything that we do. " * 6


# The bridge's own means (its /metrics), by summary key: what the callers' figures contain.
BRIDGE_STAGES = {
    "bridge_gap_mean_ms": "turn_gap",
    "bridge_stt_mean_ms": "stt",
    "bridge_tts_first_ms": "tts_first_audio",
}


@dataclass
class BenchResult:
    calls: int
    turns: int
    turn_gaps_ms: list[float] = field(default_factory=list)
    heard_turn_gaps_ms: list[float] = field(default_factory=list)  # to the first word's playout
    barge_in_ms: list[float] = field(default_factory=list)
    unanswered: int = 0
    underruns: int = 0
    agent_audio_s: float = 0.0  # audible agent audio the callers heard, in all
    cold_start_s: float | None = None
    cpu_s: float | None = None
    cpu_s_by_role: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float | None = None
    wall_s: float = 0.0
    media_only: bool = False
    transport: str = "twilio"
    stages: dict[str, Any] = field(default_factory=dict)  # the bridge's /metrics, this run's
    run_calls: int = 0  # every call of the run (other transports' too): what the CPU served

    @property
    def served(self) -> int:
        return self.run_calls or self.calls

    def summary(self) -> dict[str, Any]:
        gaps = sorted(self.turn_gaps_ms)
        return {
            "transport": self.transport,
            "calls": self.calls,
            "turns": len(gaps),
            "turn_gap_p50_ms": _pct(gaps, 50),
            "turn_gap_p95_ms": _pct(gaps, 95),
            "turn_gap_max_ms": max(gaps) if gaps else None,
            "heard_turn_gap_p50_ms": _pct(sorted(self.heard_turn_gaps_ms), 50),
            "heard_turn_gap_p95_ms": _pct(sorted(self.heard_turn_gaps_ms), 95),
            "barge_in_p50_ms": _pct(sorted(self.barge_in_ms), 50),
            "barge_in_max_ms": max(self.barge_in_ms) if self.barge_in_ms else None,
            "unanswered_turns": self.unanswered,
            "late_frames": self.underruns,
            "agent_audio_s": round(self.agent_audio_s, 1),
            "cold_start_s": self.cold_start_s,
            "server_cpu_s": self.cpu_s,
            "cpu_s_per_call": self.cpu_s / self.served if self.cpu_s is not None else None,
            "cpu_s_per_turn": (  # other transports' turns shared the CPU: not this column's
                self.cpu_s / max(1, len(gaps))
                if self.cpu_s is not None and self.served == self.calls
                else None
            ),
            "cpu_share_per_call": (
                self.cpu_s / self.served / self.wall_s
                if self.cpu_s is not None and self.wall_s
                else None
            ),
            # Share of a core per call, by the threads that spent it.
            "cpu_share_by_role": {
                role: round(seconds / self.served / self.wall_s, 4)
                for role, seconds in sorted(self.cpu_s_by_role.items())
            }
            if self.wall_s
            else None,
            "peak_rss_mb": self.peak_rss_mb,
            "wall_s": round(self.wall_s, 1),
        } | {  # where a turn's time went inside the bridge (its own turn gap, then stages)
            key: self.stages.get(stage, {}).get("mean_ms") for key, stage in BRIDGE_STAGES.items()
        }

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "raw": asdict(self)}


def _pct(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


async def _scrape_metrics(target: str) -> str | None:
    """The bridge's ``/metrics`` body; None where it has none (metrics turned off)."""
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            reply = await http.get(f"{target}/metrics")
        except httpx.HTTPError:
            return None
    return reply.text if reply.status_code == 200 else None


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


ROLES = ("stt", "tts", "vad")  # OS thread names the engines give their threads


def _proc_cpu_s_by_role(pid: int) -> dict[str, float]:
    """CPU seconds per thread role: the event loop (the main thread), each engine, the rest."""
    roles: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        role = "event_loop" if task.name == str(pid) else name if name in ROLES else "other"
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        roles[role] = roles.get(role, 0.0) + cpu
    return roles


def _proc_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def hold_music_dialplan(folder: Path, seconds: float) -> Path:
    """A dialplan that plays ``seconds`` of a 16 kHz tone, then hangs up: outbound media
    (resampling, G.711, pacing) on every call, with no speech models in the way."""
    rate = 16_000
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.1 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.sin(2 * np.pi * 660 * t)) * 32767
    wav = folder / "hold.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(tone.astype("<i2").tobytes())
    dialplan = folder / "hold.yaml"
    dialplan.write_text(
        "name: bench-hold\nstart: play\nnodes:\n"
        f"  play: {{type: say, audio: {str(wav)!r}, barge_in: false, next: done}}\n"
        "  done: {type: hangup}\n"
    )
    return dialplan


def _log_file(log: Path | None) -> IO[bytes]:
    return open(log or os.devnull, "wb")  # the child keeps its own copy of the descriptor


@contextlib.asynccontextmanager
async def local_bridge(
    llm_url: str, extra_env: dict[str, str], log: Path | None = None
) -> AsyncIterator[tuple[str, int, float]]:
    """Start ``bridge serve`` on a free port; yield (base URL, pid, seconds until ready).
    ``log``: a file for its log (else it is discarded)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "OPENAI_"))}
    env |= {
        "BRIDGE_PORT": str(port),
        "BRIDGE_LOG_LEVEL": "warning",
        "BRIDGE_DEFAULT_DIALPLAN": "agent",
        "BRIDGE_GREETING": "",
        "OPENAI_BASE_URL": f"{llm_url}/v1",
        **extra_env,
    }
    started = time.monotonic()
    with _log_file(log) as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge", "serve", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http, asyncio.timeout(120):
            while True:  # readiness is a poll by nature: the models load in another process
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        break
                if process.returncode is not None:
                    raise RuntimeError("the bridge exited during start-up")
                await asyncio.sleep(0.05)
        yield url, process.pid, time.monotonic() - started
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def _one_call(
    url: str, turns: int, index: int, barge_in: bool, media_only_s: float
) -> tuple[list[Any], int]:
    tts = _shared_tts()
    wire = twilio_wire({"From": f"+1555{index:07d}"})
    steps: list[Step]
    if media_only_s:
        steps = [Listen(for_s=media_only_s)]
    else:
        steps = [Say(QUESTIONS[(index + t) % len(QUESTIONS)]) for t in range(turns)]
        if barge_in:
            steps += [
                Say("Tell me a long story.", wait="start"),
                Say("Stop, thank you.", barge_in_after_ms=1500),
            ]
    async with dial_websocket(url.replace("http://", "ws://") + "/twilio/media") as transport:
        caller = SimulatedCaller(wire, transport, tts=tts, stt=None, reply_timeout_s=15)
        reports = await caller.run(steps)
    return reports, caller.playback.underruns


@functools.cache
def _shared_tts() -> Any:
    """The callers' voice, loaded once for all simulated callers."""
    from bridge.pipeline.tts import PiperTTS

    return PiperTTS(noise_scale=0.0, noise_w_scale=0.0)


async def _one_webrtc_call(
    url: str, turns: int, index: int, barge_in: bool, media_only_s: float,
    env: dict[str, str] | None = None,
) -> tuple[list[Any], int]:  # fmt: skip
    """``env``: the bridge's settings, whose turn detection the call asks for (as the phone
    calls get it), so both transports end turns the same way."""
    from bridge.bench.webrtc import phone_turn_detection, piper_24k, webrtc_call  # aiortc

    questions = [QUESTIONS[(index + t) % len(QUESTIONS)] for t in range(turns)]
    speak = piper_24k(_shared_tts())
    return await webrtc_call(
        url, questions, speak, barge_in=barge_in, media_only_s=media_only_s,
        turn_detection=phone_turn_detection(env or {}),
    )  # fmt: skip


async def run_bench(
    *, calls: int = 4, turns: int = 5, url: str | None = None, barge_in: bool = True,
    media_only_s: float = 0.0, env: dict[str, str] | None = None, webrtc: bool = False,
) -> BenchResult:  # fmt: skip
    """``webrtc``: the calls are /v1/realtime calls over WebRTC instead of Twilio calls."""
    (result,) = await run_transports(
        transports=("webrtc",) if webrtc else ("twilio",), calls=calls, turns=turns, url=url,
        barge_in=barge_in, media_only_s=media_only_s, env=env,
    )  # fmt: skip
    return result


async def run_transports(
    *, transports: tuple[str, ...], calls: int = 4, turns: int = 5, url: str | None = None,
    barge_in: bool = True, media_only_s: float = 0.0, env: dict[str, str] | None = None,
) -> list[BenchResult]:  # fmt: skip
    """``calls`` calls of each transport (``twilio``, ``webrtc``), all on one bridge at once;
    a result per transport. With more than one, the transports are compared under the same
    load, and the call starts are staggered (TOGETHER_STAGGER_S) so that twin calls do not end
    their turns together and queue for the models in the same order every time; the server's
    figures (CPU, memory, its own stages) are the whole run's, in every column."""
    answers = itertools.count(100)
    fresh = Rule(r".", lambda _: Reply(ANSWER.format(n=next(answers))))
    llm = ScriptedLLM(rules=[Rule(r"story", Reply(STORY)), fresh])
    results = {
        name: BenchResult(calls=calls, turns=turns, media_only=bool(media_only_s), transport=name)
        for name in transports
    }
    everyone = calls * len(transports)
    _shared_tts()
    freeze_long_lived_objects()  # the callers' loop, like the bridge's, skips the voice in a GC
    async with serve_app(llm.app()) as llm_url, contextlib.AsyncExitStack() as stack:
        pid, cold_start_s = None, None
        if url is None:
            env = dict(env or {})
            # The bridge refuses calls beyond BRIDGE_MAX_CALLS (100 by default): never the
            # bench's own.
            asked = env.pop("BRIDGE_MAX_SESSIONS", None)  # the older name
            asked = env.get("BRIDGE_MAX_CALLS", asked)
            cap = max(everyone, int(asked or DEFAULT_MAX_SESSIONS))
            env["BRIDGE_MAX_CALLS"] = str(cap)
            if media_only_s:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                env["BRIDGE_DEFAULT_DIALPLAN"] = str(hold_music_dialplan(folder, media_only_s))
            target, pid, cold_start_s = await stack.enter_async_context(local_bridge(llm_url, env))
        else:
            target = url
        cpu_before = _proc_cpu_s(pid) if pid else None
        roles_before = _proc_cpu_s_by_role(pid) if pid else {}
        metrics_before = await _scrape_metrics(target)
        callers: dict[str, Callable[..., Awaitable[tuple[list[Any], int]]]] = {
            "twilio": _one_call,
            "webrtc": functools.partial(_one_webrtc_call, env=env),
        }
        stagger_s = TOGETHER_STAGGER_S if len(transports) > 1 and not media_only_s else 0.0
        placed = [(name, i) for i in range(calls) for name in transports]  # interleaved

        async def place(order: int, name: str, index: int) -> tuple[list[Any], int]:
            await asyncio.sleep(order * stagger_s)
            return await callers[name](target, turns, index, barge_in, media_only_s)

        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(place(order, name, i) for order, (name, i) in enumerate(placed))
        )
        wall_s = time.monotonic() - started
        stages: dict[str, Any] = {}
        if metrics_before is not None and (metrics_after := await _scrape_metrics(target)):
            stages = stage_latencies(metrics_before, metrics_after)
        for result in results.values():
            result.wall_s, result.cold_start_s, result.stages = wall_s, cold_start_s, stages
            result.run_calls = everyone
        if pid is not None and cpu_before is not None:
            cpu_s = round(_proc_cpu_s(pid) - cpu_before, 2)
            by_role = {
                role: round(seconds - roles_before.get(role, 0.0), 2)
                for role, seconds in _proc_cpu_s_by_role(pid).items()
            }
            for result in results.values():
                result.cpu_s, result.cpu_s_by_role = cpu_s, by_role
                result.peak_rss_mb = round(_proc_peak_rss_mb(pid), 1)
    for (name, _), (reports, underruns) in zip(placed, outcomes, strict=True):
        _tally(results[name], reports, underruns)
    return list(results.values())


def _tally(result: BenchResult, reports: list[Any], underruns: int) -> None:
    result.underruns += underruns
    for report in reports:
        result.agent_audio_s += len(report.heard_pcm) / 16_000  # 8 kHz 16-bit
        if report.clear_ms is not None:
            result.barge_in_ms.append(report.clear_ms)
        elif report.step.startswith("say") and "long story" not in report.step:
            if report.latency_ms is None:
                result.unanswered += 1
            else:
                result.turn_gaps_ms.append(report.latency_ms)
                if report.heard_latency_ms is not None:
                    result.heard_turn_gaps_ms.append(report.heard_latency_ms)
