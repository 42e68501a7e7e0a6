"""The ``bridge`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bridge import __version__
from bridge.bench.cli import add_bench_arguments, run_bench_command
from bridge.caller.cli import add_call_arguments, run_call_command
from bridge.config import ConfigError, Settings, load_settings
from bridge.dialplan.check import DialplanInvalid
from bridge.dialplan.cli import add_dialplan_arguments
from bridge.logging import configure_logging, get_logger
from bridge.sip.cli import add_sip_arguments


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from bridge.app import create_app

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
    # uvicorn handles SIGTERM/SIGINT: stop accepting, finish requests, run the lifespan exit.
    uvicorn.Server(config).run()
    return 0


def _call(args: argparse.Namespace, settings: Settings) -> int:
    return run_call_command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bridge", description=__doc__)
    parser.add_argument("--version", action="version", version=f"voice-bridge {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the bridge server (the default)")
    serve.add_argument("--host", help="listen address (BRIDGE_HOST)")
    serve.add_argument("--port", type=int, help="listen port (BRIDGE_PORT)")
    serve.set_defaults(handler=_serve)
    call = commands.add_parser(
        "call", help="dial a running bridge as a carrier would and talk to the agent"
    )
    add_call_arguments(call)
    call.set_defaults(handler=_call)
    bench = commands.add_parser("bench", help="measure turn latency, barge-in and capacity")
    add_bench_arguments(bench)
    bench.set_defaults(handler=run_bench_command)
    dialplan = commands.add_parser("dialplan", help="check and draw dialplans (IVR flows)")
    add_dialplan_arguments(dialplan)
    sip = commands.add_parser("sip", help="SIP trunk commands (place a call)")
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
