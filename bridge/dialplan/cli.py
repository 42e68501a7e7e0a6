"""``bridge dialplan``: check dialplan files and draw them as graphs.

``bridge dialplan check FILE...`` prints ``file:line: error: message`` (and ``warning:``) lines
like a compiler, ``FILE: ok`` for clean files, and exits 1 if any file has an error.
``bridge dialplan graph FILE [-o OUT]`` prints Mermaid, or writes OUT (.mmd, .dot, .svg, .png).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bridge.dialplan.check import Problem, check_text
from bridge.dialplan.graph import GraphvizMissing, render, to_dot, to_mermaid
from bridge.dialplan.schema import Dialplan

if TYPE_CHECKING:
    from bridge.config import Settings

EXIT_OK = 0
EXIT_INVALID = 1  # a dialplan has errors
EXIT_FAILED = 2  # the command itself could not do its job (unreadable file, no Graphviz)


def add_dialplan_arguments(parser: argparse.ArgumentParser) -> None:
    """Fill the ``dialplan`` sub-parser; each sub-command sets ``handler(args, settings)``."""
    commands = parser.add_subparsers(dest="dialplan_command", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check",
        help="check dialplan files; print file:line problems",
        description="Check dialplans: schema, targets, conditions, hours, unreachable nodes.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="dialplan YAML files")
    check.add_argument(
        "--strict", action="store_true", help="treat warnings (unreachable nodes) as errors"
    )
    check.set_defaults(handler=run_check)
    graph = commands.add_parser(
        "graph",
        help="draw a dialplan as Mermaid, DOT, SVG or PNG",
        description="Print a dialplan's flowchart as Mermaid, or write it to OUT.",
    )
    graph.add_argument("file", metavar="FILE", help="a dialplan YAML file")
    graph.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="write here; the suffix picks the format: .mmd, .dot, .svg or .png (needs Graphviz)",
    )
    graph.add_argument(
        "--format",
        choices=("mermaid", "dot"),
        default="mermaid",
        help="what to print to stdout when no -o is given (default: mermaid)",
    )
    graph.set_defaults(handler=run_graph)


def _check_file(file: str) -> tuple[Dialplan | None, list[Problem]]:
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return None, [Problem(file, 1, f"cannot read: {reason}")]
    return check_text(text, file)


def run_check(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """``bridge dialplan check``: every problem of every file; 1 if any has an error."""
    strict: bool = getattr(args, "strict", False)
    failed = False
    for file in args.files:
        plan, problems = _check_file(file)
        for problem in problems:
            print(problem)
        warnings = sum(1 for p in problems if p.warning)
        errors = len(problems) - warnings
        if plan is None or errors or (strict and warnings):
            failed = True
        elif warnings:
            print(f"{file}: ok ({warnings} warning{'s' if warnings > 1 else ''})")
        else:
            print(f"{file}: ok")
    return EXIT_INVALID if failed else EXIT_OK


def run_graph(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """``bridge dialplan graph``: Mermaid on stdout, or a file chosen by ``-o``."""
    plan, problems = _check_file(args.file)
    errors = [p for p in problems if not p.warning]
    if plan is None or errors:
        # A graph of a broken plan would mislead; show why instead (as ``check`` does).
        for problem in errors:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    output: str | None = getattr(args, "output", None)
    if output is None:
        fmt: str = getattr(args, "format", "mermaid")
        sys.stdout.write(to_dot(plan) if fmt == "dot" else to_mermaid(plan))
        return EXIT_OK
    try:
        render(plan, output)
    except (GraphvizMissing, ValueError, RuntimeError, OSError) as exc:
        print(f"bridge dialplan graph: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {output}", file=sys.stderr)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bridge dialplan", description=__doc__)
    add_dialplan_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run without the rest of ``bridge``: ``python -m bridge.dialplan.cli check FILE``."""
    args = build_parser().parse_args(argv)
    result: int = args.handler(args, None)
    return result


if __name__ == "__main__":
    sys.exit(main())
