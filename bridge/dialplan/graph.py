"""Draw a dialplan as a flowchart: Mermaid text, Graphviz DOT, or an SVG/PNG made by ``dot``.

Both formats are built from one description (boxes and labelled arrows), so they always show
the same nodes and edges. Edges come from :func:`bridge.dialplan.schema.targets_of`, the same
list the checker walks, so the drawing never disagrees with ``bridge dialplan check``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.dialplan.schema import (
    Agent,
    Branch,
    Dialplan,
    Gather,
    Hangup,
    Hours,
    Http,
    Menu,
    MenuOption,
    Record,
    Say,
    SetVariables,
    Transfer,
    targets_of,
)

EXCERPT_CHARS = 48  # long prompts would make boxes unreadably wide
START_ID = "call_start"  # node ids of the two synthetic boxes; dialplan nodes all start "n_"
GLOBALS_ID = "any_prompt"
GRAPHVIZ_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}


class GraphvizMissing(RuntimeError):
    """Raised when an image is asked for but Graphviz's ``dot`` is not installed."""


@dataclass(frozen=True)
class Box:
    id: str
    kind: str  # a node type, or "start", "globals", "missing"
    lines: tuple[str, ...]  # the first is the title


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    label: str = ""
    dashed: bool = False


@dataclass
class Drawing:
    title: str
    description: str
    boxes: list[Box] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)


# --- the shared description -------------------------------------------------------------------


def node_ids(names: list[str]) -> dict[str, str]:
    """Node name -> an id that is safe in Mermaid and DOT, unique even after sanitising.

    The ``n_`` prefix keeps ids off keywords (Mermaid's ``end``, DOT's ``node``) and stops
    Mermaid reading ``o``/``x`` at the start of an id as an arrow head.
    """
    ids: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = "n_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
        candidate, suffix = base, 2
        while candidate in used:
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        used.add(candidate)
        ids[name] = candidate
    return ids


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """One line of at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def choice_label(keys: str | None, phrases: list[str]) -> str:
    """``1 or "sales"``: what a caller presses or says to take a menu option or global."""
    parts = ([keys] if keys else []) + [f'"{phrase}"' for phrase in phrases]
    return " or ".join(parts) or "(nothing)"


def _value(value: Any) -> str:
    # As the YAML author wrote it (true, not Python's True); text stays unquoted.
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _details(node: Any) -> list[str]:
    """The short text shown under a node's title."""
    if isinstance(node, Say):
        return [node.text or (f"plays {node.audio}" if node.audio else "")]
    if isinstance(node, Gather | Menu | Record):
        return [node.prompt]
    if isinstance(node, Hours):
        spans = ", ".join(f"{days} {span}" for days, span in node.open.items())
        return [node.timezone, spans]
    if isinstance(node, SetVariables):
        return [", ".join(f"{name} = {_value(value)}" for name, value in node.values.items())]
    if isinstance(node, Http):
        return [f"{node.method} {node.url}"]
    if isinstance(node, Transfer):
        return [f"to {node.target}", node.text]
    if isinstance(node, Hangup):
        return [node.text]
    if isinstance(node, Agent):
        tools = ", ".join(tool.name for tool in node.tools)
        return [node.greeting or node.instructions, f"tools: {tools}" if tools else ""]
    return []  # branch: its conditions are on the arrows


def _next_label(node: Any) -> str:
    # A plain "next" needs no words; for these the arrow means something more specific.
    if isinstance(node, Gather):
        return f"got {node.variable}"
    if isinstance(node, Record):
        return "recorded"
    if isinstance(node, Http):
        return "ok"
    if isinstance(node, Agent):
        return "max turns"
    return ""


def edge_label(node: Any, field_name: str) -> str:
    """What leads along the edge that ``targets_of`` calls ``field_name``."""
    fixed = {
        "fallback": "no input / fallback",
        "open_goto": "open",
        "closed_goto": "closed",
        "on_error": "error",
        "default": "else",
    }
    if field_name == "on_error" and isinstance(node, Transfer):
        return "cannot transfer"
    if field_name in fixed:
        return fixed[field_name]
    if field_name == "next":
        return _next_label(node)
    index_match = re.search(r"\[(\d+)\]", field_name)
    index = int(index_match.group(1)) if index_match else 0
    if field_name.startswith("options") and isinstance(node, Menu):
        option: MenuOption = node.options[index]
        return choice_label(option.keys, option.phrases)
    if field_name.startswith("conditions") and isinstance(node, Branch):
        return node.conditions[index].if_
    if field_name.startswith("exits"):
        return "agent exit"
    return field_name


def describe(plan: Dialplan) -> Drawing:
    """The boxes and arrows of ``plan``, in the order of the file."""
    drawing = Drawing(plan.name, plan.description)
    named = {target for node in plan.nodes.values() for _, target in targets_of(node)}
    named |= {handler.goto for handler in plan.globals} | {plan.start}
    missing = sorted(named - set(plan.nodes))
    ids = node_ids([*plan.nodes, *missing])
    drawing.boxes.append(Box(START_ID, "start", ("call",)))
    drawing.arrows.append(Arrow(START_ID, ids[plan.start]))
    for name, node in plan.nodes.items():
        lines = [f"{name} ({node.type})", *(excerpt(d) for d in _details(node) if d.strip())]
        drawing.boxes.append(Box(ids[name], node.type, tuple(lines)))
        # The catch-all ways out ("else", "fallback") read best after the specific ones.
        pairs = sorted(targets_of(node), key=lambda pair: pair[0] in ("default", "fallback"))
        for field_name, target in pairs:
            drawing.arrows.append(Arrow(ids[name], ids[target], edge_label(node, field_name)))
    # Only a plan with errors has these; drawing them shows where the mistake points.
    for name in missing:
        drawing.boxes.append(Box(ids[name], "missing", (f"{name} (undefined)",)))
    if plan.globals:
        drawing.boxes.append(Box(GLOBALS_ID, "globals", ("any prompt",)))
        for handler in plan.globals:
            label = choice_label(handler.keys, handler.phrases)
            drawing.arrows.append(Arrow(GLOBALS_ID, ids[handler.goto], label, dashed=True))
    return drawing


# --- Mermaid ----------------------------------------------------------------------------------

# Characters that end or confuse a quoted Mermaid label, as Mermaid's own entity codes.
# One pass over the text, so the "#" and ";" of an inserted code are never escaped again.
_MERMAID_ESCAPES = {
    '"': "#quot;",
    "#": "#35;",
    ";": "#59;",
    "&": "#amp;",
    "<": "#lt;",
    ">": "#gt;",
    "`": "#96;",
    "|": "#124;",
    "%": "#37;",  # "%%{...}%%" anywhere in the text would be read as a directive
}

_MERMAID_SHAPES = {
    "start": ('(("', '"))'),
    "globals": ('>"', '"]'),
    "missing": ('["', '"]'),
    "say": ('["', '"]'),
    "gather": ('("', '")'),
    "menu": ('("', '")'),
    "branch": ('{"', '"}'),
    "hours": ('{"', '"}'),
    "set": ('[/"', '"/]'),
    "http": ('[["', '"]]'),
    "transfer": ('(["', '"])'),
    "hangup": ('(["', '"])'),
    "record": ('[("', '")]'),
    "agent": ('{{"', '"}}'),
}


def mermaid_text(text: str) -> str:
    """Text made safe inside a double-quoted Mermaid label."""
    return "".join(_MERMAID_ESCAPES.get(char, char) for char in " ".join(text.split()))


def to_mermaid(plan: Dialplan) -> str:
    """A Mermaid ``flowchart TD`` of the plan."""
    drawing = describe(plan)
    out = ["flowchart TD"]
    # A comment ends at the line's end; "%%" inside it could start a directive, so no "%".
    summary = f"{drawing.title}: {drawing.description}" if drawing.description else drawing.title
    out.append(f"    %% dialplan {' '.join(summary.replace('%', ' ').split())}")
    for box in drawing.boxes:
        opening, closing = _MERMAID_SHAPES.get(box.kind, ('["', '"]'))
        label = "<br/>".join(mermaid_text(line) for line in box.lines)
        out.append(f"    {box.id}{opening}{label}{closing}")
    for arrow in drawing.arrows:
        link = "-.->" if arrow.dashed else "-->"
        label = f'|"{mermaid_text(arrow.label)}"|' if arrow.label else ""
        out.append(f"    {arrow.source} {link}{label} {arrow.target}")
    out.append("    classDef missing stroke-dasharray: 5 5")
    out.append("    classDef globals stroke-dasharray: 5 5")
    for kind in ("missing", "globals"):
        members = [box.id for box in drawing.boxes if box.kind == kind]
        if members:
            out.append(f"    class {','.join(members)} {kind}")
    return "\n".join(out) + "\n"


# --- Graphviz DOT -----------------------------------------------------------------------------

_DOT_SHAPES = {
    "start": 'shape=circle, style=filled, fillcolor="#e8e8e8"',
    "globals": "shape=cds, style=dashed",
    "missing": 'shape=box, style=dashed, color="#c00000"',
    "say": "shape=box",
    "gather": "shape=box, style=rounded",
    "menu": "shape=box, style=rounded",
    "branch": "shape=diamond",
    "hours": "shape=diamond",
    "set": "shape=parallelogram",
    "http": "shape=component",
    "transfer": 'shape=box, style="rounded,bold"',
    "hangup": 'shape=box, style="rounded,bold"',
    "record": "shape=cylinder",
    "agent": "shape=hexagon",
}


def dot_text(text: str) -> str:
    """Text made safe inside a double-quoted DOT string (no escString sequences survive)."""
    flat = " ".join(text.split())
    return flat.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(plan: Dialplan) -> str:
    """A Graphviz ``digraph`` of the plan."""
    drawing = describe(plan)
    font = 'fontname="Helvetica"'
    out = [
        f'digraph "{dot_text(drawing.title)}" {{',
        f'    graph [label="{dot_text(drawing.title)}", labelloc=t, rankdir=TB, {font}];',
        f"    node [{font}, fontsize=11];",
        f"    edge [{font}, fontsize=10];",
    ]
    for box in drawing.boxes:
        label = "\\n".join(dot_text(line) for line in box.lines)
        shape = _DOT_SHAPES.get(box.kind, "shape=box")
        out.append(f'    "{box.id}" [label="{label}", {shape}];')
    for arrow in drawing.arrows:
        attributes = []
        if arrow.label:
            attributes.append(f'label="{dot_text(arrow.label)}"')
        if arrow.dashed:
            attributes.append("style=dashed")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        out.append(f'    "{arrow.source}" -> "{arrow.target}"{suffix};')
    out.append("}")
    return "\n".join(out) + "\n"


# --- files ------------------------------------------------------------------------------------


def render(plan: Dialplan, path: str | Path) -> Path:
    """Write the plan's graph to ``path``; the suffix picks the format (.mmd, .dot, .svg, .png).

    Images are drawn by Graphviz's ``dot``; :class:`GraphvizMissing` says so if it is absent.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in (".mmd", ".mermaid"):
        target.write_text(to_mermaid(plan), encoding="utf-8")
    elif suffix in (".dot", ".gv"):
        target.write_text(to_dot(plan), encoding="utf-8")
    elif suffix in GRAPHVIZ_FORMATS:
        _run_dot(to_dot(plan), GRAPHVIZ_FORMATS[suffix], target)
    else:
        raise ValueError(
            f"cannot tell the graph format of {str(path)!r}: use .mmd, .dot, .svg or .png"
        )
    return target


def _run_dot(source: str, fmt: str, target: Path) -> None:
    dot = shutil.which("dot")  # looked up on each call, so tests can take it away
    if dot is None:
        raise GraphvizMissing(
            f"writing {target.suffix} needs Graphviz's 'dot' program, which is not on PATH: "
            "install Graphviz (e.g. 'apt-get install graphviz' or 'brew install graphviz'), "
            "or write .mmd or .dot instead"
        )
    try:
        result = subprocess.run(
            [dot, f"-T{fmt}", "-o", str(target)],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError("Graphviz 'dot' took longer than 60 s") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"Graphviz 'dot' failed ({result.returncode}): {message}")
