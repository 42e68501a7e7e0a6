"""``{{var}}`` templating: variables (dotted paths into nested values) replaced in text and in
any JSON-like structure. Unknown variables become empty text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


def lookup(variables: Mapping[str, Any], dotted: str) -> Any:
    value: Any = variables
    for part in dotted.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def render(text: str, variables: Mapping[str, Any]) -> str:
    def substitute(match: re.Match[str]) -> str:
        value = lookup(variables, match.group(1))
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(substitute, text)


def render_value(value: Any, variables: Mapping[str, Any]) -> Any:
    """Template every string inside a JSON-like value; a string that is exactly one
    placeholder keeps the variable's own type (a number stays a number)."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole is not None:
            found = lookup(variables, whole.group(1))
            return "" if found is None else found
        return render(value, variables)
    if isinstance(value, list):
        return [render_value(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: render_value(item, variables) for key, item in value.items()}
    return value
