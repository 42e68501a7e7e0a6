"""YAML with positions: every mapping key and list entry remembers its line, so errors in a
dialplan can be reported as ``file:line``."""

from __future__ import annotations

from typing import Any

import yaml

from bridge.json_limits import too_deep

Path = tuple[str | int, ...]
MAX_DEPTH = 64  # nesting of mappings and lists; real dialplans nest about 6
MAX_PATHS = 100_000  # places in a file, counting every use of an alias: a bound on aliases
# libyaml's parser when PyYAML was built with it (about 5x faster), else the pure-Python one.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SourceError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse YAML; return the data and the 1-based line of every path inside it."""
    if too_deep(text, MAX_DEPTH):  # flow collections ([[[...): refused before PyYAML recurses
        raise SourceError(1, f"nested more than {MAX_DEPTH} levels deep")
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()  # parsed once: walked for lines, then constructed
        if root is None:
            return None, {}
        lines: dict[Path, int] = {}
        _walk(root, (), lines)
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SourceError(line, f"invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:  # PyYAML's composer recurses once per level
        raise SourceError(1, f"nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()
    return data, lines


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int]) -> None:
    if len(path) > MAX_DEPTH:
        raise SourceError(node.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
    if len(lines) >= MAX_PATHS:
        raise SourceError(
            node.start_mark.line + 1, f"more than {MAX_PATHS} values (aliases count each use)"
        )
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
