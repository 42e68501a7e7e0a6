"""The ``bridge`` command line (the composition root: it wires commands to their code)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from bridge import __version__
from bridge.bench.cli import add_bench_arguments, run_bench_command
from bridge.caller.cli import add_call_arguments, run_call_command
from bridge.config import ConfigError, Settings, load_settings
from bridge.dialplan.check import DialplanInvalid
from bridge.dialplan.cli import add_dialplan_arguments
from bridge.logging import configure_logging, get_logger
from bridge.sip.cli import add_sip_arguments
from bridge.tracing import TracingUnavailable


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.app import create_app
    from bridge.server import GracefulServer

    overrides = {"host": args.host, "port": args.port}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if not settings.api_keys:
        get_logger("bridge").warning(
            "no BRIDGE_API_KEYS set: the API is open to anyone who can reach it"
        )
    try:
        app = create_app(settings)
    except DialplanInvalid as exc:
        print(f"bridge: a dialplan has errors:\n{exc}", file=sys.stderr)
        return 2
    except TracingUnavailable as exc:
        print(f"bridge: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our structlog set-up handles uvicorn's loggers too
        ws_max_size=settings.max_message_bytes,
        # Audio frames do not compress; deflating each one cost a third of the event loop at
        # 100 calls.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=10,
    )
    # SIGTERM/SIGINT: drain (no new calls; live ones finish or hear the goodbye), then stop
    # accepting, finish requests, run the lifespan exit, and exit 0. A second signal: at once.
    GracefulServer(config, drain=app.state.runtime.start_draining).run()
    return 0


def _call(args: argparse.Namespace, settings: Settings) -> int:
    return run_call_command(args)


DESCRIPTION = """\
Answer phone calls with an AI voice agent, host IVR dialplans and serve OpenAI's
/v1/realtime API on a local speech pipeline. With no command, `bridge` runs `bridge serve`.
Settings come from BRIDGE_* environment variables and a .env file (see .env.example)."""

EPILOG = """\
examples:
  bridge serve --port 9000                     run the server
  bridge call --say "What are your hours?"     ring the running bridge as a Twilio caller
  bridge bench --calls 2 --turns 10            measure latency and CPU per call
  bridge bench --turn-taking                   measure cut-offs, backchannels, interruptions
  bridge dialplan check dialplans/*.yaml       check IVR flows

`bridge COMMAND --help` describes each command."""


def _add_command(
    commands: Any, name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridge",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"voice-bridge {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = _add_command(
        commands,
        "serve",
        "run the bridge server (the default)",
        "Load the speech models and serve HTTP, the carriers' media WebSockets and\n"
        "/v1/realtime (plus AudioSocket and SIP when their ports are set) until Ctrl-C or\n"
        "SIGTERM. GET /readyz answers 200 once the models are loaded.",
    )
    serve.add_argument(
        "--host", help="listen address (default: BRIDGE_HOST, which defaults to 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, help="listen port (default: BRIDGE_PORT, which defaults to 8080)"
    )
    serve.set_defaults(handler=_serve)
    call = _add_command(
        commands,
        "call",
        "dial a running bridge as a carrier would and talk to the agent",
        "Ring a running bridge as a simulated caller: speak each --say line (Piper), play\n"
        "--wav files, press --dtmf keys, talk over the agent with --barge-in, in the order\n"
        "given; print one line per turn with what the agent said (transcribed) and the\n"
        "latency. Exits non-zero when a turn gets no answer or the call ends early.",
    )
    add_call_arguments(call)
    call.set_defaults(handler=_call)
    bench = _add_command(
        commands,
        "bench",
        "measure turn latency, barge-in and capacity",
        "Start a bridge (or use --url), place simultaneous simulated Twilio calls against an\n"
        "instant local LLM, and report turn gaps p50/p95/max, barge-in latency, late frames,\n"
        "cold start, CPU per call and peak memory. --turn-taking speaks the turn-taking test\n"
        "set instead and reports false cut-offs on mid-turn pauses, turn gaps on complete\n"
        "questions, false interruptions on backchannels and stop latency on interruptions.",
    )
    add_bench_arguments(bench)
    bench.set_defaults(handler=run_bench_command)
    dialplan = _add_command(
        commands,
        "dialplan",
        "check and draw dialplans (IVR flows)",
        "Tools for dialplan authors: `check` reports file:line problems, `graph` draws a flow.",
    )
    add_dialplan_arguments(dialplan)
    sip = _add_command(
        commands,
        "sip",
        "SIP trunk commands (place a call)",
        "Ask a running bridge to place a SIP call through its trunk.",
    )
    add_sip_arguments(sip)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *(argv or sys.argv[1:])])
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"bridge: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    handler = args.handler
    result: int = handler(args, settings)
    return result
