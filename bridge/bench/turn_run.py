"""``bridge bench --turn-taking``: the turn-taking test set spoken into a bridge by simultaneous
simulated Twilio callers, against an instant local LLM, judged at the callers' ears.

The LLM answers the long-answer request with a long fixed story (the reply that backchannels
and interruptions talk over), anything of four words or fewer ("uh-huh", "stop, wait", half a
sentence cut at a pause) with "Okay." (so a cancelled story is never mistaken for one that went
on), and everything else with a short answer unique to the turn (no speech-cache help, as in
``bridge bench``). Figures: :mod:`bridge.bench.turn_metrics`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bridge.bench.run import _proc_cpu_s, _shared_tts, local_bridge
from bridge.bench.turn_metrics import ItemResult, item_result, split_items, turn_summary
from bridge.bench.turnset import LONG_ANSWER_REQUEST, Item, Voice, spread, turn_set
from bridge.caller.caller import Say, SimulatedCaller, SpeakOver, Step, TurnReport
from bridge.caller.dial import dial_websocket
from bridge.caller.wires import twilio_wire
from bridge.carriers.twilio import MULAW_8K
from bridge.config import Settings
from bridge.testing.llm_server import Reply, Rule, ScriptedLLM
from bridge.testing.serve import serve_app

STORY = "Let me tell you a long story about our company and everything that we do. " * 2
ANSWER = "Order {n} is fine, I can help with that."
SHORT_UTTERANCE = r"^\W*(?:[\w'-]+\W*){1,4}$"  # four words or fewer
# The bridge settings that choose a phone call's end-of-turn strategy (when the bridge has
# them: today's phone calls use server_vad with BRIDGE_VAD_SILENCE_MS only).
TURN_DETECTION_SETTING = "turn_detection"
EAGERNESS_SETTING = "turn_eagerness"
EAGERNESS = ("low", "medium", "high", "auto")


@dataclass(frozen=True)
class TurnDetection:
    """The end-of-turn strategy a run measures."""

    kind: Literal["server_vad", "semantic_vad"] = "semantic_vad"  # what calls use by default
    silence_ms: int | None = None  # server_vad: BRIDGE_VAD_SILENCE_MS (None: the default)
    eagerness: str = "auto"  # semantic_vad

    def env(self) -> dict[str, str]:
        """The bridge's environment for this strategy; a ValueError when the bridge under test
        has no setting for it (measuring the default instead would mislabel the figures)."""
        fields = Settings.model_fields
        env: dict[str, str] = {}
        if self.kind == "semantic_vad":
            if TURN_DETECTION_SETTING not in fields or EAGERNESS_SETTING not in fields:
                raise ValueError(
                    "this bridge has no setting to choose semantic_vad for phone calls "
                    f"(BRIDGE_{TURN_DETECTION_SETTING.upper()} / "
                    f"BRIDGE_{EAGERNESS_SETTING.upper()}); its calls use server_vad"
                )
            if self.eagerness not in EAGERNESS:
                raise ValueError(f"eagerness must be one of {', '.join(EAGERNESS)}")
            env[f"BRIDGE_{TURN_DETECTION_SETTING.upper()}"] = "semantic_vad"
            env[f"BRIDGE_{EAGERNESS_SETTING.upper()}"] = self.eagerness
            return env
        if TURN_DETECTION_SETTING in fields:
            env[f"BRIDGE_{TURN_DETECTION_SETTING.upper()}"] = "server_vad"
        if self.silence_ms is not None:
            env["BRIDGE_VAD_SILENCE_MS"] = str(self.silence_ms)
        return env

    def label(self, env: dict[str, str]) -> str:
        if self.kind == "semantic_vad":
            return f"semantic_vad eagerness {self.eagerness}"
        silence = (
            env.get("BRIDGE_VAD_SILENCE_MS") or Settings.model_fields["vad_silence_ms"].default
        )
        return f"server_vad {silence} ms"


@dataclass
class TurnBenchResult:
    calls: int
    turn_detection: str
    items: list[ItemResult] = field(default_factory=list)
    cold_start_s: float | None = None
    cpu_s: float | None = None
    wall_s: float = 0.0
    late_frames: int = 0
    load_avg_1m: tuple[float, float] | None = None  # at the start and the end of the calls
    asked: list[str] = field(default_factory=list)  # each LLM request's last user turn

    def summary(self) -> dict[str, Any]:
        return {
            "turn_detection": self.turn_detection,
            "calls": self.calls,
            "items": len(self.items),
            **turn_summary(self.items),
            "late_frames": self.late_frames,
            "server_cpu_s": self.cpu_s,
            "cpu_share_per_call": (
                round(self.cpu_s / self.calls / self.wall_s, 4)
                if self.cpu_s is not None and self.wall_s
                else None
            ),
            "cold_start_s": self.cold_start_s,
            "wall_s": round(self.wall_s, 1),
            "load_avg_1m": (
                f"{self.load_avg_1m[0]:.2f} -> {self.load_avg_1m[1]:.2f}"
                if self.load_avg_1m
                else None
            ),
        }

    @property
    def complete(self) -> bool:
        """Every item was measured: questions answered, the long answer's length known."""
        summary = turn_summary(self.items)
        return not summary["unanswered"] and summary["long_answer_s"] is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "items": [asdict(item) for item in self.items],
            "llm_user_turns": self.asked,
        }


def turn_llm() -> ScriptedLLM:
    answers = itertools.count(100)
    return ScriptedLLM(
        rules=[
            Rule(r"story", Reply(STORY)),
            Rule(SHORT_UTTERANCE, Reply("Okay.")),
            Rule(r".", lambda _: Reply(ANSWER.format(n=next(answers)))),
        ]
    )


def item_steps(item: Item, voice: Voice) -> list[Step]:
    """What the caller does for one item (each item's speech synthesized once per run)."""
    utterance = voice.utterance(item)
    if item.kind in ("backchannel", "interruption"):
        request = voice.phrase(LONG_ANSWER_REQUEST)
        return [
            Say(LONG_ANSWER_REQUEST, pcm=request, wait="start"),
            SpeakOver(item.text, pcm=utterance, after_ms=item.after_ms),
        ]
    return [Say(item.text, pcm=utterance)]


async def _one_call(url: str, index: int, script: list[tuple[Item, list[Step]]]) -> Any:
    wire = twilio_wire({"From": f"+1555{index:07d}"})
    frame_bytes = wire.media.sample_rate * 2 * wire.media.frame_ms // 1000
    steps = [step for _, item_steps in script for step in item_steps]
    async with dial_websocket(url.replace("http://", "ws://") + "/twilio/media") as transport:
        caller = SimulatedCaller(wire, transport, tts=_shared_tts(), stt=None, reply_timeout_s=30)
        reports: list[TurnReport] = await caller.run(steps)
    results = []
    for item, item_steps in script:
        mine, reports = reports[: len(item_steps)], reports[len(item_steps) :]
        results.append(item_result(item, mine, frame_bytes, wire.media.frame_ms / 1000))
    return results, caller.playback.underruns


async def run_turn_bench(
    *,
    calls: int = 2,
    short: bool = False,
    detection: TurnDetection | None = None,
    env: dict[str, str] | None = None,
) -> TurnBenchResult:
    detection = detection or TurnDetection()
    bridge_env = {**detection.env(), **(env or {}), "BRIDGE_MAX_CALLS": str(max(100, calls))}
    result = TurnBenchResult(calls=calls, turn_detection=detection.label(bridge_env))
    llm = turn_llm()
    tts = _shared_tts()
    voice = Voice(tts.synthesize_sync, tts.sample_rate, MULAW_8K.sample_rate)
    # Everything is synthesized before the calls start: the callers' voice costs the
    # measurement nothing.
    hands = [
        [(item, item_steps(item, voice)) for item in hand]
        for hand in spread(turn_set(short=short, long_answers=calls), calls)
    ]
    async with (
        serve_app(llm.app()) as llm_url,
        local_bridge(llm_url, bridge_env) as (url, pid, ready_s),
    ):
        result.cold_start_s = round(ready_s, 1)
        load_before = os.getloadavg()[0]
        cpu_before = _proc_cpu_s(pid)
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(_one_call(url, index, hand) for index, hand in enumerate(hands))
        )
        result.wall_s = time.monotonic() - started
        result.cpu_s = round(_proc_cpu_s(pid) - cpu_before, 2)
        result.load_avg_1m = (load_before, os.getloadavg()[0])
    said = [item for hand in hands for item, _ in hand]
    result.asked = [last_user_text(request) for request in llm.requests]
    split = split_items(said, result.asked)
    for (items, underruns), hand in zip(outcomes, hands, strict=True):
        for outcome, (item, _) in zip(items, hand, strict=True):
            outcome.split = item in split
        result.items.extend(items)
        result.late_frames += underruns
    return result


def last_user_text(request: dict[str, Any]) -> str:
    """The last user message of a chat-completions request, as text."""
    for message in reversed(request.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(part.get("text", "")) for part in content)
            return str(content or "")
    return ""
