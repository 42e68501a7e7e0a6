"""JSON from strangers, parsed only when it is shallow enough to handle.

``json.loads`` recurses once per nesting level, so ``"[" * 5000`` raises ``RecursionError``
(not ``ValueError``) and a value nested a few hundred levels deep can still break
``copy.deepcopy`` or ``json.dumps`` later. :func:`loads` measures the nesting of the text
first (brackets outside strings, found by a regular expression, so a megabyte of base64 costs
a scan in C) and raises :class:`JsonTooDeep`, a ``ValueError``, before anything recurses.
:func:`check_depth` does the same for a value that is already parsed (a YAML document, a
request body), without recursion of its own.

Imports nothing from the bridge: every package that reads JSON from a peer may use it.
"""

from __future__ import annotations

import json
import re
from typing import Any

DEFAULT_MAX_DEPTH = 64  # BRIDGE_MAX_JSON_DEPTH's default; tool schemas rarely pass 10

# A whole string literal (escapes included), or one bracket outside strings.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


class JsonTooDeep(ValueError):
    """The text or value nests deeper than allowed."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"nested more than {max_depth} levels deep")
        self.max_depth = max_depth


def too_deep(text: str, max_depth: int) -> bool:
    """Whether arrays and objects in ``text`` nest deeper than ``max_depth`` (brackets inside
    strings do not count); stops scanning as soon as they do."""
    if text.count("[") + text.count("{") <= max_depth:
        return False  # too few brackets to nest that deep: the usual case, no scan
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                return True
        elif token in ("]", "}"):
            depth = max(0, depth - 1)
    return False


def loads(text: str | bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """``json.loads`` that refuses text nested deeper than ``max_depth`` with
    :class:`JsonTooDeep`. Other failures are ``json.JSONDecodeError`` / ``UnicodeDecodeError``
    as usual (both ``ValueError``)."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")
    if too_deep(text, max_depth):
        raise JsonTooDeep(max_depth)
    return json.loads(text)


def check_depth(value: object, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Raise :class:`JsonTooDeep` if ``value`` (lists and dicts) nests deeper than
    ``max_depth``; iterative, so any depth is measured safely."""
    stack: list[tuple[object, int]] = [(value, 0)]
    visited: dict[int, int] = {}  # id -> deepest level seen (YAML aliases share nodes)
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            if depth > max_depth:
                raise JsonTooDeep(max_depth)  # a cycle (a recursive alias) ends here too
            if visited.get(id(item), 0) >= depth:
                continue
            visited[id(item)] = depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
