"""Built-in tools the phone agent may call: end the call, transfer it, send digits."""

from __future__ import annotations

import json
from typing import Any

from bridge.engine.config import FunctionTool
from bridge.json_limits import JsonTooDeep, loads

END_CALL = FunctionTool(
    name="end_call",
    description="Hang up the phone call. Say goodbye first; the call ends after you finish.",
    parameters={"type": "object", "properties": {}},
)
TRANSFER_CALL = FunctionTool(
    name="transfer_call",
    description="Transfer the caller to a phone number (E.164, e.g. +15551234567) or SIP URI.",
    parameters={
        "type": "object",
        "properties": {"target": {"type": "string", "description": "number or sip: URI"}},
        "required": ["target"],
    },
)
SEND_DTMF = FunctionTool(
    name="send_dtmf",
    description="Press keypad digits on the call (for example to navigate another menu).",
    parameters={
        "type": "object",
        "properties": {"digits": {"type": "string", "description": "0-9, * and #"}},
        "required": ["digits"],
    },
)
BUILTIN_TOOLS = (END_CALL, TRANSFER_CALL, SEND_DTMF)


def tool_arguments(raw: str) -> dict[str, Any]:
    """A tool call's JSON arguments; a model that wrote nonsense gets a clear error back."""
    try:
        value = loads(raw or "{}")
    except JsonTooDeep as exc:
        raise ValueError(f"arguments are {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"arguments are not JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise ValueError("arguments must be a JSON object")
    return value
