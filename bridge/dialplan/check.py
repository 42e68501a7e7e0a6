"""Loading and checking dialplans: schema errors, undefined targets, unreachable nodes,
bad conditions and hours, each reported as ``file:line: problem``."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bridge.dialplan import expressions, hours
from bridge.dialplan.schema import Branch, Dialplan, Hours, Record, targets_of
from bridge.dialplan.source import SourceError, line_of, load_with_lines

_NODE_TYPES = {"say", "gather", "menu", "branch", "hours", "set", "http", "transfer", "hangup",
               "record", "agent"}  # fmt: skip


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning" if self.warning else "error"
        return f"{self.file}:{self.line}: {kind}: {self.message}"


class DialplanInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _schema_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Pydantic's error location as a YAML path (drop the node-type tag it inserts)."""
    path = list(loc)
    if len(path) > 2 and path[0] == "nodes" and path[2] in _NODE_TYPES:
        del path[2]
    return tuple(path)  # pydantic reports aliases (if, else) already


def _describe(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) or "the file"


def check_text(text: str, file: str = "<dialplan>") -> tuple[Dialplan | None, list[Problem]]:
    """Parse and check a dialplan; problems are sorted by line. Warnings do not block."""
    try:
        data, lines = load_with_lines(text)
    except SourceError as exc:
        return None, [Problem(file, exc.line, exc.message)]
    if not isinstance(data, dict):
        return None, [Problem(file, 1, "a dialplan must be a mapping with name, start and nodes")]
    try:
        plan = Dialplan.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = _schema_path(error["loc"])
            message = error["msg"].replace("Value error, ", "")
            problems.append(Problem(file, line_of(lines, path), f"{_describe(path)}: {message}"))
        return None, sorted(problems, key=lambda p: p.line)
    problems = _semantic_problems(plan, lines, file)
    return plan, sorted(problems, key=lambda p: (p.line, p.message))


def _semantic_problems(plan: Dialplan, lines: dict[Any, int], file: str) -> list[Problem]:
    problems: list[Problem] = []

    def problem(path: tuple[Any, ...], message: str, warning: bool = False) -> None:
        problems.append(Problem(file, line_of(lines, path), message, warning))

    if plan.start not in plan.nodes:
        problem(("start",), f"start: no node named {plan.start!r}")
    for index, handler in enumerate(plan.globals):
        if handler.goto not in plan.nodes:
            problem(
                ("globals", index, "goto"), f"globals[{index}].goto: no node named {handler.goto!r}"
            )
    for name, node in plan.nodes.items():
        for field, target in targets_of(node):
            if target not in plan.nodes:
                key = re.split(r"[\[\].]", field)[0]
                shown = "else" if field == "default" else field  # the YAML spells it `else`
                problem(
                    ("nodes", name, shown if key == "default" else key),
                    f"nodes.{name}.{shown}: no node named {target!r}",
                )
        problems.extend(_node_problems(name, node, lines, file))
    for name in sorted(set(plan.nodes) - reachable(plan)):
        problem(("nodes", name), f"nodes.{name}: unreachable from start {plan.start!r}", True)
    return problems


def _node_problems(name: str, node: Any, lines: dict[Any, int], file: str) -> list[Problem]:
    found: list[Problem] = []
    path: tuple[Any, ...]
    if isinstance(node, Branch):
        for index, condition in enumerate(node.conditions):
            try:
                expressions.parse(condition.if_)
            except expressions.ExpressionError as exc:
                path = ("nodes", name, "conditions", index, "if")
                found.append(Problem(file, line_of(lines, path), f"nodes.{name}: {exc}"))
    if isinstance(node, Hours):
        for days, span in node.open.items():
            try:
                hours.parse_days(days)
                hours.parse_span(span)
            except ValueError as exc:
                path = ("nodes", name, "open", days)
                found.append(Problem(file, line_of(lines, path), f"nodes.{name}.open: {exc}"))
        for index, day in enumerate(node.holidays):
            try:
                date.fromisoformat(day)
            except ValueError:
                path = ("nodes", name, "holidays", index)
                message = f"nodes.{name}.holidays: {day!r} is not a date (YYYY-MM-DD)"
                found.append(Problem(file, line_of(lines, path), message))
    pattern = getattr(node, "pattern", None)
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            path = ("nodes", name, "pattern")
            found.append(Problem(file, line_of(lines, path), f"nodes.{name}.pattern: {exc}"))
    if isinstance(node, Record) and node.silence_s >= node.max_s:
        path = ("nodes", name, "silence_s")
        found.append(
            Problem(file, line_of(lines, path), f"nodes.{name}: silence_s must be below max_s")
        )
    return found


def reachable(plan: Dialplan) -> set[str]:
    seen: set[str] = set()
    queue = deque([plan.start, *(h.goto for h in plan.globals)])
    while queue:
        name = queue.popleft()
        if name in seen or name not in plan.nodes:
            continue
        seen.add(name)
        queue.extend(target for _, target in targets_of(plan.nodes[name]))
    return seen


def load_dialplan(path: str | Path) -> Dialplan:
    """A checked dialplan, or :class:`DialplanInvalid` listing every error."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DialplanInvalid([Problem(file, 1, f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise DialplanInvalid([Problem(file, 1, f"not UTF-8 text: {exc.reason}")]) from None
    plan, problems = check_text(text, file)
    errors = [p for p in problems if not p.warning]
    if plan is None or errors:
        raise DialplanInvalid(errors)
    return plan
