"""``bridge call``: dial a running bridge as a carrier would, speak a script, report turns."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import wave
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from bridge.audio import StreamResampler
from bridge.caller.caller import (
    ClientTransport,
    Listen,
    Press,
    Say,
    SimulatedCaller,
    Step,
    TurnReport,
)
from bridge.caller.dial import dial_tcp, dial_websocket
from bridge.caller.wires import WIRES, CallerWire
from bridge.carriers.twilio import twilio_signature

MEDIA_PATHS = {name: f"/{name}/media" for name in WIRES if name != "audiosocket"}


class StepAction(argparse.Action):
    """Keep --say/--wav/--dtmf/--listen/--barge-in in the order they were given."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: str | None = None) -> None:
        steps = list(getattr(namespace, "steps", None) or [])
        steps.append((self.dest, values))
        namespace.steps = steps


def add_call_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--carrier", choices=sorted(WIRES), default="twilio")
    parser.add_argument("--url", help="media WebSocket URL (default: the local bridge's route)")
    parser.add_argument("--audiosocket", metavar="HOST:PORT", help="AudioSocket address")
    parser.add_argument("--say", action=StepAction, metavar="TEXT", help="speak this (Piper)")
    parser.add_argument("--wav", action=StepAction, metavar="FILE", help="play a mono WAV file")
    parser.add_argument("--dtmf", action=StepAction, metavar="DIGITS", help="press keys")
    parser.add_argument(
        "--barge-in",
        action=StepAction,
        nargs=2,
        metavar=("MS", "TEXT"),
        help="speak TEXT MS milliseconds into the agent's next reply",
    )
    parser.add_argument("--listen", action=StepAction, nargs=0, help="wait for the agent")
    parser.add_argument("--no-greeting", action="store_true", help="do not wait for a greeting")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a reply")
    parser.add_argument("--record", metavar="FILE", help="save what the agent said as a WAV")
    parser.add_argument("--json", action="store_true", help="print the turns as JSON")
    parser.set_defaults(steps=[])


def read_wav(path: str, rate: int) -> bytes:
    with wave.open(path, "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise SystemExit(f"bridge call: {path} must be 16-bit mono PCM")
        pcm = wav.readframes(wav.getnframes())
        return StreamResampler(wav.getframerate(), rate).process(pcm)


def build_steps(raw: Sequence[tuple[str, Any]], wire: CallerWire, greeting: bool) -> list[Step]:
    steps: list[Step] = [Listen()] if greeting else []
    for kind, value in raw:
        if kind == "say":
            steps.append(Say(value))
        elif kind == "wav":
            steps.append(Say(pcm=read_wav(value, wire.media.sample_rate)))
        elif kind == "dtmf":
            steps.append(Press(value))
        elif kind == "barge_in":
            steps.append(Say(value[1], barge_in_after_ms=int(value[0])))
        else:
            steps.append(Listen())
    if not raw:
        steps.append(Say("What can you do for me?"))
    # A reply that is barged into should only be awaited until it starts.
    for index, step in enumerate(steps[:-1]):
        following = steps[index + 1]
        if isinstance(step, Say) and isinstance(following, Say) and following.barge_in_after_ms:
            steps[index] = Say(step.text, step.pcm, step.barge_in_after_ms, wait="start")
    return steps


@asynccontextmanager
async def connect(args: argparse.Namespace, wire: CallerWire) -> AsyncIterator[ClientTransport]:
    host = os.environ.get("BRIDGE_HOST", "127.0.0.1")
    port = os.environ.get("BRIDGE_PORT", "8080")
    if wire.transport == "tcp":
        address = args.audiosocket or f"{host}:{os.environ.get('BRIDGE_AUDIOSOCKET_PORT', '9092')}"
        tcp_host, _, tcp_port = address.rpartition(":")
        async with dial_tcp(tcp_host or host, int(tcp_port)) as tcp:
            yield tcp
        return
    url = args.url or f"ws://{host}:{port}{MEDIA_PATHS[args.carrier]}"
    headers = dict(wire.headers)
    token = os.environ.get("BRIDGE_TWILIO_AUTH_TOKEN")
    if token and args.carrier in ("twilio", "signalwire"):
        headers["X-Twilio-Signature"] = twilio_signature(token, url)
    async with dial_websocket(url, subprotocols=wire.subprotocols, headers=headers) as ws:
        yield ws


def describe(report: TurnReport) -> str:
    timing = f"latency {report.latency_ms:.0f} ms" if report.latency_ms is not None else "no answer"
    if report.clear_ms is not None:
        timing += f", carrier clear after {report.clear_ms:.0f} ms"
    return f"[{report.step}] agent: {report.heard or '(silence)'!r} ({timing})"


async def place_call(args: argparse.Namespace) -> list[TurnReport]:
    from bridge.pipeline.stt import SpeechToText
    from bridge.pipeline.tts import PiperTTS

    wire: CallerWire = WIRES[args.carrier]()
    tts, stt = PiperTTS(), SpeechToText(device="cpu")
    try:
        steps = build_steps(args.steps, wire, greeting=not args.no_greeting)
        async with connect(args, wire) as transport:
            caller = SimulatedCaller(
                wire, transport, tts=tts, stt=stt, reply_timeout_s=args.timeout
            )
            reports = await caller.run(steps)
        if args.record:
            with wave.open(args.record, "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(wire.media.sample_rate)
                out.writeframes(b"".join(h.pcm for h in caller.playback.heard))
        return reports
    finally:
        await tts.close()
        stt.close()


def run_call_command(args: argparse.Namespace) -> int:
    reports = asyncio.run(place_call(args))
    if args.json:
        rows = [
            {"step": r.step, "heard": r.heard, "latency_ms": r.latency_ms, "clear_ms": r.clear_ms}
            for r in reports
        ]
        print(json.dumps(rows, indent=2))
    else:
        for report in reports:
            print(describe(report))
    answered = [r for r in reports if r.step != "listen"]
    return 0 if all(r.latency_ms is not None for r in answered) else 1
