"""``bridge sip dial TARGET``: ask a running bridge to place a SIP call (``POST /v1/sip/calls``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from bridge.config import Settings

EXIT_OK = 0
EXIT_FAILED = 1


def add_sip_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="sip_command", metavar="COMMAND", required=True)
    dial = commands.add_parser(
        "dial",
        help="place an outbound call through the bridge's SIP trunk",
        description="The bridge calls TARGET and serves the call with its dialplan and agent.",
    )
    dial.add_argument("target", help="a number (sent to BRIDGE_SIP_TRUNK_URI) or a sip: URI")
    dial.add_argument("--url", help="the running bridge (default: BRIDGE_HOST:BRIDGE_PORT)")
    dial.add_argument("--api-key", help="an API key, when the bridge requires one")
    dial.set_defaults(handler=run_dial)


def run_dial(args: argparse.Namespace, settings: Settings) -> int:
    url = args.url or f"http://{settings.host}:{settings.port}"
    key = args.api_key or (settings.api_keys[0] if settings.api_keys else None)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.post(
            f"{url}/v1/sip/calls", json={"to": args.target}, headers=headers, timeout=90
        )
    except httpx.HTTPError as exc:
        print(f"bridge sip dial: cannot reach {url}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    body = response.json() if response.headers.get("content-type") == "application/json" else {}
    if response.status_code != 201:
        message = body.get("error", {}).get("message") or response.text
        print(f"bridge sip dial: {message}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{args.target}: answered, call {body['call_id']}")
    return EXIT_OK
