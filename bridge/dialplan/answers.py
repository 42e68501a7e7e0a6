"""What a caller answered a prompt with (keys or words), and how a menu matches it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bridge.dialplan.schema import Gather, Menu


@dataclass(frozen=True)
class Answer:
    kind: str  # "dtmf" or "speech"
    value: str


def collect_options(node: Gather | Menu) -> dict[str, Any]:
    if isinstance(node, Gather):
        return {
            "digits": node.digits,
            "finish_key": node.finish_key,
            "inter_digit_timeout_s": node.inter_digit_timeout_s,
        }
    longest = max(len(option.keys or "") for option in node.options)
    return {"digits": max(1, longest), "finish_key": None}  # a choice is complete at its length


def mentions(utterance: str, phrases: list[str]) -> bool:
    words = " " + re.sub(r"[^a-z0-9 ]+", " ", utterance.lower()) + " "
    return any(f" {phrase.lower().strip()} " in words for phrase in phrases if phrase.strip())
