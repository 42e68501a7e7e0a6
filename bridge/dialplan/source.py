"""YAML with positions: every mapping key and list entry remembers its line, so errors in a
dialplan can be reported as ``file:line``."""

from __future__ import annotations

from typing import Any

import yaml

Path = tuple[str | int, ...]


class SourceError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse YAML; return the data and the 1-based line of every path inside it."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SourceError(line, f"invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None:
        return None, {}
    lines: dict[Path, int] = {}
    _walk(root, (), lines)
    data = yaml.safe_load(text)
    return data, lines


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if str(key.value) in seen:
                # PyYAML would silently keep the last one: a node would vanish.
                raise SourceError(key.start_mark.line + 1, f"duplicate key {key.value!r}")
            seen.add(str(key.value))
            child = (*path, str(key.value))
            lines[child] = key.start_mark.line + 1
            _walk(value, child, lines)
            lines[child] = key.start_mark.line + 1  # the key's line, not the value's
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines)


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of ``path``, or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1
