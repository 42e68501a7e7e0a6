"""``bridge bench --soak MINUTES``: conversational and media-only calls, redialled for a long
time, while the bridge's ``/v1/status`` is sampled (resident memory, live asyncio tasks, open
file descriptors). Reports memory growth after the warm-up (the first minute, or the first
third of a run shorter than three minutes), whether tasks and descriptors came back to their
idle count once the calls ended, and the late frames the callers heard.

The idle count is taken after a warm-up round at full concurrency (every caller once, briefly),
so pools that are meant to stay (the LLM client's keep-alive connections, engine threads) are
part of it and only what calls leave behind shows.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bridge.bench.run import ANSWER, QUESTIONS, _shared_tts, hold_music_dialplan, local_bridge
from bridge.caller.caller import Listen, Say, SimulatedCaller, Step
from bridge.caller.dial import dial_websocket
from bridge.caller.wires import twilio_wire
from bridge.testing.llm_server import Reply, Rule, ScriptedLLM
from bridge.testing.serve import serve_app

MEDIA_CALL_S = 20.0  # each media-only call listens to this much hold music, then redials
SETTLE_S = 30.0  # how long the bridge gets to release everything once the calls end


@dataclass
class Sample:
    at_s: float
    rss_mb: float
    tasks: int
    open_fds: int
    live: int


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
    failed_calls: int = 0

    def summary(self) -> dict[str, Any]:
        # Growth is measured over the load: from the end of the warm-up to the last sample
        # taken while the calls were still being redialled.
        late = [s for s in self.samples[:-1] if s.at_s >= self.warmup_s]
        start = late[0] if late else None
        return {
            "minutes": self.minutes,
            "conversational_calls": self.calls,
            "media_only_calls": self.media_calls,
            "calls_completed": self.calls_done,
            "failed_calls": self.failed_calls,
            "turns": self.turns,
            "unanswered_turns": self.unanswered,
            "late_frames": self.late_frames,
            "rss_after_warmup_mb": start.rss_mb if start else None,
            "rss_peak_mb": max(s.rss_mb for s in late) if late else None,
            "rss_growth_mb": round(late[-1].rss_mb - start.rss_mb, 1) if start else None,
            "rss_after_calls_mb": self.after.rss_mb if self.after else None,
            "idle_tasks": self.idle.tasks if self.idle else None,
            "tasks_after": self.after.tasks if self.after else None,
            "idle_open_fds": self.idle.open_fds if self.idle else None,
            "open_fds_after": self.after.open_fds if self.after else None,
            "back_to_idle": self.back_to_idle,
        }

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


def warmup_s(minutes: float) -> float:
    return min(60.0, minutes * 60 / 3)


async def _status(http: httpx.AsyncClient, url: str, started: float) -> Sample:
    body = (await http.get(f"{url}/v1/status")).json()
    return Sample(
        round(time.monotonic() - started, 1),
        body["rss_mb"],
        body["tasks"],
        body["open_fds"],
        body["live_total"],
    )


async def _call(url: str, steps: list[Step], parameters: dict[str, str]) -> tuple[Any, int]:
    wire = twilio_wire(parameters)
    async with dial_websocket(url.replace("http://", "ws://") + "/twilio/media") as transport:
        caller = SimulatedCaller(wire, transport, tts=_shared_tts(), stt=None, reply_timeout_s=15)
        reports = await caller.run(steps)
    return reports, caller.playback.underruns


def _tally(result: SoakResult, outcome: tuple[Any, int]) -> None:
    reports, underruns = outcome
    result.calls_done += 1
    result.late_frames += underruns
    for report in reports:
        if report.step.startswith("say"):
            result.turns += 1
            result.unanswered += report.latency_ms is None


async def _caller(url: str, index: int, media: bool, until: float, result: SoakResult) -> None:
    """Call, hang up, call again, until ``until`` (monotonic)."""
    parameters = {"From": f"+1555{index:07d}"} | ({"soak": "media"} if media else {})
    for turn in itertools.count():
        if time.monotonic() >= until:
            return
        steps: list[Step]
        if media:
            steps = [Listen(for_s=MEDIA_CALL_S)]
        else:
            steps = [Say(QUESTIONS[(index + turn + t) % len(QUESTIONS)]) for t in range(3)]
        try:
            _tally(result, await _call(url, steps, parameters))
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
    answers = itertools.count(100)
    llm = ScriptedLLM(rules=[Rule(r".", lambda _: Reply(ANSWER.format(n=next(answers))))])
    result = SoakResult(minutes, calls, media_calls, warmup_s(minutes))
    _shared_tts()
    with tempfile.TemporaryDirectory() as folder:
        plans = Path(folder) / "dialplans"
        plans.mkdir()
        hold = hold_music_dialplan(Path(folder), MEDIA_CALL_S)
        (plans / "hold.yaml").write_text(hold.read_text() + "route: {parameter: {soak: media}}\n")
        env = {
            "BRIDGE_MAX_SESSIONS": str(max(100, 2 * (calls + media_calls))),
            "BRIDGE_DIALPLANS_DIR": str(plans),
            "BRIDGE_LOG_TRANSCRIPTS": "false",
        }
        async with (
            serve_app(llm.app()) as llm_url,
            local_bridge(llm_url, env) as (url, _pid, _ready_s),
            httpx.AsyncClient(timeout=10) as http,
        ):
            started = time.monotonic()
            # A warm-up round at full concurrency; the idle count is taken after it.
            await asyncio.gather(
                *(_call(url, [Say(QUESTIONS[i % len(QUESTIONS)])], {}) for i in range(calls)),
                *(_call(url, [Listen(for_s=1.0)], {"soak": "media"}) for _ in range(media_calls)),
            )
            idle = result.idle = await _idle(http, url, started)
            started = time.monotonic()
            until = started + minutes * 60
            callers = [
                asyncio.create_task(_caller(url, i, i >= calls, until, result))
                for i in range(calls + media_calls)
            ]
            while time.monotonic() < until:
                result.samples.append(await _status(http, url, started))
                await asyncio.sleep(sample_s)
            await asyncio.gather(*callers)
            result.samples.append(await _status(http, url, started))
            result.after = await _settle(http, url, started, idle)
    return result
