"""``bridge call``: dial a running bridge as a carrier would, speak a script, report turns."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import wave
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import websockets

from bridge.audio import StreamResampler
from bridge.caller.caller import (
    ClientTransport,
    Listen,
    Press,
    Say,
    SimulatedCaller,
    Step,
    TurnReport,
    step_label,
)
from bridge.caller.dial import dial_tcp, dial_websocket
from bridge.caller.wires import WIRES, CallerWire
from bridge.carriers.twilio import twilio_signature

MEDIA_PATHS = {name: f"/{name}/media" for name in WIRES if name != "audiosocket"}
CONNECT_TIMEOUT_S = 5.0


class CallFailed(Exception):
    """The call could not be placed; the message is one line a person can act on."""


class StepAction(argparse.Action):
    """Keep --say/--wav/--dtmf/--listen/--barge-in in the order they were given."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: str | None = None) -> None:
        steps = list(getattr(namespace, "steps", None) or [])
        steps.append((self.dest, values))
        namespace.steps = steps


def add_call_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--carrier",
        choices=sorted(WIRES),
        default="twilio",
        help="the carrier protocol to dial with (default: %(default)s)",
    )
    parser.add_argument(
        "--url",
        help="media WebSocket URL (default: ws://BRIDGE_HOST:BRIDGE_PORT/<carrier>/media, "
        "i.e. ws://127.0.0.1:8080/twilio/media)",
    )
    parser.add_argument(
        "--audiosocket",
        metavar="HOST:PORT",
        help="AudioSocket address for --carrier audiosocket "
        "(default: BRIDGE_HOST:BRIDGE_AUDIOSOCKET_PORT, i.e. 127.0.0.1:9092)",
    )
    parser.add_argument(
        "--say", action=StepAction, metavar="TEXT", help="speak TEXT (synthesized with Piper)"
    )
    parser.add_argument(
        "--wav", action=StepAction, metavar="FILE", help="play a 16-bit mono WAV file"
    )
    parser.add_argument(
        "--dtmf", action=StepAction, metavar="DIGITS", help="press keys (0-9, *, #)"
    )
    parser.add_argument(
        "--barge-in",
        action=StepAction,
        nargs=2,
        metavar=("MS", "TEXT"),
        help="speak TEXT MS milliseconds into the agent's next reply",
    )
    parser.add_argument(
        "--listen", action=StepAction, nargs=0, help="wait for the agent to speak and finish"
    )
    parser.add_argument(
        "--no-greeting", action="store_true", help="do not wait for a greeting first"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds to wait for each reply (default: %(default)g)",
    )
    parser.add_argument("--record", metavar="FILE", help="save what the agent said as a WAV")
    parser.add_argument("--json", action="store_true", help="print the turns as JSON")
    parser.set_defaults(steps=[])


def read_wav(path: str, rate: int) -> bytes:
    try:
        with wave.open(path, "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise CallFailed(f"{path} must be 16-bit mono PCM")
            pcm = wav.readframes(wav.getnframes())
            return StreamResampler(wav.getframerate(), rate).process(pcm)
    except (OSError, EOFError, wave.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise CallFailed(f"cannot read {path}: {reason}") from None


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


@dataclass(frozen=True)
class Target:
    """Where the call goes: a media WebSocket URL, or an AudioSocket TCP address."""

    url: str = ""
    tcp: tuple[str, int] | None = None

    def unreachable(self) -> str:
        if self.tcp is not None:
            host, port = self.tcp
            return (
                f"no AudioSocket server at {host}:{port} — is the bridge running with "
                "BRIDGE_AUDIOSOCKET_PORT set?"
            )
        split = urlsplit(self.url)
        scheme = {"ws": "http", "wss": "https"}.get(split.scheme, split.scheme)
        return f"no bridge at {scheme}://{split.netloc} — is `make run` running?"


def target(args: argparse.Namespace, wire: CallerWire) -> Target:
    host = os.environ.get("BRIDGE_HOST", "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):  # a listen address, not one to dial
        host = "127.0.0.1"
    port = os.environ.get("BRIDGE_PORT", "8080")
    if wire.transport == "tcp":
        address = args.audiosocket or f"{host}:{os.environ.get('BRIDGE_AUDIOSOCKET_PORT', '9092')}"
        tcp_host, _, tcp_port = address.rpartition(":")
        if not tcp_port.isdigit():
            raise CallFailed(f"--audiosocket wants HOST:PORT, not {address!r}")
        return Target(tcp=(tcp_host or host, int(tcp_port)))
    url = args.url or f"ws://{host}:{port}{MEDIA_PATHS[args.carrier]}"
    split = urlsplit(url)
    if split.scheme not in ("ws", "wss") or not split.hostname:
        raise CallFailed(f"--url wants a ws:// or wss:// URL, not {url!r}")
    return Target(url=url)


async def probe(where: Target) -> None:
    """Fail at once, before loading any model, when nothing listens where the call goes."""
    if where.tcp is not None:
        host, port = where.tcp
    else:
        split = urlsplit(where.url)
        host = split.hostname or ""
        port = split.port or (443 if split.scheme == "wss" else 80)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        raise CallFailed(where.unreachable()) from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


@asynccontextmanager
async def connect(
    where: Target, args: argparse.Namespace, wire: CallerWire
) -> AsyncIterator[ClientTransport]:
    async with contextlib.AsyncExitStack() as stack:
        transport: ClientTransport
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                if where.tcp is not None:
                    transport = await stack.enter_async_context(dial_tcp(*where.tcp))
                else:
                    headers = dict(wire.headers)
                    token = os.environ.get("BRIDGE_TWILIO_AUTH_TOKEN")
                    if token and args.carrier in ("twilio", "signalwire"):
                        headers["X-Twilio-Signature"] = twilio_signature(token, where.url)
                    transport = await stack.enter_async_context(
                        dial_websocket(where.url, subprotocols=wire.subprotocols, headers=headers)
                    )
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            raise CallFailed(f"the bridge at {where.url} refused the call: HTTP {status}") from None
        except (OSError, TimeoutError, websockets.InvalidHandshake):
            raise CallFailed(where.unreachable()) from None
        yield transport


def describe(report: TurnReport) -> str:
    timing = f"latency {report.latency_ms:.0f} ms" if report.latency_ms is not None else "no answer"
    if report.clear_ms is not None:
        timing += f", carrier clear after {report.clear_ms:.0f} ms"
    if report.cut_off:
        timing += ", cut off by the caller"
    return f"[{report.step}] agent: {report.heard or '(silence)'!r} ({timing})"


@dataclass
class CallResult:
    reports: list[TurnReport]
    ended_before: str | None  # the label of the first step the call ended before


async def place_call(args: argparse.Namespace) -> CallResult:
    wire: CallerWire = WIRES[args.carrier]()
    where = target(args, wire)
    steps = build_steps(args.steps, wire, greeting=not args.no_greeting)  # reads WAV files
    await probe(where)

    from bridge.pipeline.stt import SpeechToText
    from bridge.pipeline.tts import PiperTTS

    tts, stt = PiperTTS(), SpeechToText(device="cpu")
    try:
        async with connect(where, args, wire) as transport:
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
        ended = caller.ended_before
        return CallResult(reports, step_label(ended) if ended is not None else None)
    finally:
        await tts.close()
        stt.close()


def run_call_command(args: argparse.Namespace) -> int:
    try:
        result = asyncio.run(place_call(args))
    except CallFailed as exc:
        print(f"bridge call: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bridge call: hung up (interrupted)", file=sys.stderr)
        return 130
    reports = result.reports
    if args.json:
        rows = [
            {
                "step": r.step,
                "heard": r.heard,
                "latency_ms": r.latency_ms,
                "clear_ms": r.clear_ms,
                "cut_off": r.cut_off,
            }
            for r in reports
        ]
        print(json.dumps(rows, indent=2))
    else:
        for report in reports:
            print(describe(report))
    if result.ended_before is not None:
        print(f"bridge call: the call ended before step [{result.ended_before}]", file=sys.stderr)
        return 1
    answered = [r for r in reports if r.step != "listen"]
    return 0 if all(r.latency_ms is not None for r in answered) else 1
