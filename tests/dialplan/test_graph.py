"""Mermaid and DOT drawings of a dialplan, rendering through Graphviz, ``bridge dialplan graph``."""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import pytest

from bridge.dialplan import graph
from bridge.dialplan.check import check_text
from bridge.dialplan.cli import add_dialplan_arguments
from bridge.dialplan.graph import (
    GraphvizMissing,
    describe,
    dot_text,
    mermaid_text,
    node_ids,
    render,
    to_dot,
    to_mermaid,
)
from bridge.dialplan.schema import Dialplan, targets_of

# Every node type, every kind of edge, and labels full of characters that need escaping.
SAMPLE = """\
name: sample
description: Every node type once.
start: greet
globals:
  - keys: "0"
    phrases: [operator]
    goto: operator
nodes:
  greet:
    type: say
    text: 'Hi "Bob [& Co] {Ltd}" <b> | #1; 9% `x`'
    next: office
  office:
    type: hours
    timezone: America/New_York
    open:
      mon-fri: "09:00-17:00"
    open_goto: menu
    closed_goto: voicemail
  menu:
    type: menu
    prompt: Press 1 for sales or 2 for your balance.
    fallback: operator
    options:
      - keys: "1"
        phrases: [sales, "buy (now)"]
        goto: sales_agent
      - keys: "2"
        goto: ask_pin
  ask_pin:
    type: gather
    input: dtmf
    prompt: Enter your PIN.
    variable: pin
    fallback: operator
    next: lookup
  lookup:
    type: http
    url: "http://127.0.0.1:9/balance"
    body: {pin: "{{pin}}"}
    save: {balance: balance}
    next: check
    on_error: operator
  check:
    type: branch
    conditions:
      - if: "balance > 100 and name == 'O\\"Brien'"
        goto: rich
    else: remember
  remember:
    type: set
    values: {poor: true}
    next: bye
  rich:
    type: say
    text: You are doing well.
    next: bye
  sales_agent:
    type: agent
    instructions: Sell things.
    greeting: Hi, sales here.
    tools:
      - name: find_slots
        url: "http://127.0.0.1:9/slots"
    exits: [menu]
    next: bye
  voicemail:
    type: record
    prompt: Leave a message.
    next: bye
  operator:
    type: transfer
    target: "+15550100100"
    text: Connecting you.
    on_error: voicemail
  bye:
    type: hangup
    text: Goodbye.
"""

EDGE_LABELS = [
    "open",
    "closed",
    '1 or "sales" or "buy (now)"',
    "2",
    "no input / fallback",
    "got pin",
    "ok",
    "error",
    "balance > 100 and name == 'O\"Brien'",
    "else",
    "recorded",
    "agent exit",
    "max turns",
    "cannot transfer",
]


def load(text: str = SAMPLE) -> Dialplan:
    plan, problems = check_text(text, "sample.yaml")
    assert problems == [], [str(p) for p in problems]
    assert plan is not None
    return plan


@pytest.fixture
def plan() -> Dialplan:
    return load()


def edge_count(plan: Dialplan) -> int:
    # One per target, one from the call's start, one per global handler.
    return sum(len(targets_of(node)) for node in plan.nodes.values()) + 1 + len(plan.globals)


# --- the shared description ------------------------------------------------------------------


def test_description_has_every_node_and_edge(plan: Dialplan) -> None:
    drawing = describe(plan)
    ids = node_ids(list(plan.nodes))
    boxes = {box.id: box for box in drawing.boxes}
    for name, node in plan.nodes.items():
        assert boxes[ids[name]].lines[0] == f"{name} ({node.type})"
    assert len(drawing.arrows) == edge_count(plan)
    labels = {arrow.label for arrow in drawing.arrows}
    assert set(EDGE_LABELS) <= labels
    dashed = [arrow for arrow in drawing.arrows if arrow.dashed]
    assert [(a.source, a.target, a.label) for a in dashed] == [
        ("any_prompt", "n_operator", '0 or "operator"')
    ]


def test_description_shows_an_excerpt_of_each_text(plan: Dialplan) -> None:
    boxes = {box.id: box.lines for box in describe(plan).boxes}
    assert boxes["n_menu"][1] == "Press 1 for sales or 2 for your balance."
    assert boxes["n_operator"][1:] == ("to +15550100100", "Connecting you.")
    assert boxes["n_lookup"][1] == "POST http://127.0.0.1:9/balance"
    assert boxes["n_remember"][1] == "poor = true"
    assert boxes["n_sales_agent"][1:] == ("Hi, sales here.", "tools: find_slots")
    assert boxes["n_office"][1:] == ("America/New_York", "mon-fri 09:00-17:00")
    assert boxes["n_check"] == ("check (branch)",)  # conditions are on the arrows


def test_long_texts_are_cut_short() -> None:
    plan = load(SAMPLE.replace("text: Goodbye.", "text: " + "Goodbye and thanks. " * 10))
    last = next(box for box in describe(plan).boxes if box.id == "n_bye").lines[1]
    assert len(last) == graph.EXCERPT_CHARS
    assert last.endswith("…")


def test_node_ids_are_safe_and_unique() -> None:
    names = ["a-b", "a_b", "a b", "end", "o", "x1", "ünï", "graph", "a-b_2"]
    ids = node_ids(names)
    assert len(set(ids.values())) == len(names)
    for value in ids.values():
        assert re.fullmatch(r"n_[A-Za-z0-9_]+", value)
    assert ids["end"] == "n_end"  # never the bare keyword


def test_an_undefined_target_is_drawn_as_missing() -> None:
    plan, problems = check_text(SAMPLE.replace("next: office", "next: ofice"), "x.yaml")
    assert plan is not None
    assert problems
    drawing = describe(plan)
    missing = [box for box in drawing.boxes if box.kind == "missing"]
    assert [box.lines for box in missing] == [("ofice (undefined)",)]
    assert "n_ofice" in to_mermaid(plan)
    assert '"n_ofice" [label="ofice (undefined)"' in to_dot(plan)


# --- Mermaid ---------------------------------------------------------------------------------


def test_mermaid_has_every_node_and_edge_label(plan: Dialplan) -> None:
    text = to_mermaid(plan)
    assert text.startswith("flowchart TD\n")
    ids = node_ids(list(plan.nodes))
    for name, node in plan.nodes.items():
        assert re.search(rf"^    {ids[name]}\W.*{name} \({node.type}\)", text, re.MULTILINE)
    for label in EDGE_LABELS:
        assert f'|"{mermaid_text(label)}"|' in text, label
    edges = [line for line in text.splitlines() if re.search(r" (-->|-\.->)", line)]
    assert len(edges) == edge_count(plan)
    assert '    any_prompt -.->|"0 or #quot;operator#quot;"| n_operator' in text
    assert "    call_start --> n_greet" in text
    assert '    n_office -->|"open"| n_menu' in text


def test_mermaid_labels_are_escaped(plan: Dialplan) -> None:
    text = to_mermaid(plan)
    greet = next(line for line in text.splitlines() if line.startswith("    n_greet["))
    assert greet == (
        '    n_greet["greet (say)<br/>Hi #quot;Bob [#amp; Co] {Ltd}#quot; '
        '#lt;b#gt; #124; #35;1#59; 9#37; #96;x#96;"]'
    )
    # Inside every quoted label: no raw quote, and no angle bracket but our own <br/>.
    for line in text.splitlines()[2:]:
        for label in re.findall(r'"(.*)"', line):
            assert '"' not in label
            assert "<" not in label.replace("<br/>", "")
            assert ">" not in label.replace("<br/>", "")


def test_mermaid_text_escapes_in_one_pass() -> None:
    # The "#" and ";" of an inserted code are not escaped again.
    assert mermaid_text('"#;') == "#quot;#35;#59;"
    assert mermaid_text("a\n  b") == "a b"


def test_mermaid_title_comment_cannot_become_a_directive() -> None:
    directive = "\"%%{init: {'theme': 'dark'}}%%\\nx\""  # YAML: two lines of text
    plan = load(SAMPLE.replace("Every node type once.", directive))
    assert "\n" in plan.description
    comment = to_mermaid(plan).splitlines()[1]
    assert comment.startswith("    %% dialplan sample: ")
    assert "%%{" not in comment
    assert "\n" not in comment


# --- DOT -------------------------------------------------------------------------------------

_DOT_STRING = r'"((?:[^"\\]|\\.)*)"'


def dot_unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def test_dot_has_every_node_and_edge_label(plan: Dialplan) -> None:
    text = to_dot(plan)
    assert text.startswith('digraph "sample" {\n')
    assert text.endswith("}\n")
    ids = node_ids(list(plan.nodes))
    for name, node in plan.nodes.items():
        assert f'"{ids[name]}" [label="{name} ({node.type})' in text
    edge_labels = re.findall(rf'" -> "\w+" \[label={_DOT_STRING}', text)
    assert set(EDGE_LABELS) <= {dot_unescape(label) for label in edge_labels}
    edges = [line for line in text.splitlines() if " -> " in line]
    assert len(edges) == edge_count(plan)
    assert '"any_prompt" -> "n_operator" [label="0 or \\"operator\\"", style=dashed];' in text


def test_dot_labels_are_escaped(plan: Dialplan) -> None:
    text = to_dot(plan)
    greet = next(line for line in text.splitlines() if line.startswith('    "n_greet"'))
    (label,) = re.findall(rf"label={_DOT_STRING}", greet)
    assert dot_unescape(label) == 'greet (say)\nHi "Bob [& Co] {Ltd}" <b> | #1; 9% `x`'
    # Every quoted string on every line is closed: an even number of unescaped quotes.
    for line in text.splitlines():
        assert len(re.findall(r'(?<!\\)"', line.replace("\\\\", ""))) % 2 == 0, line


def test_dot_text_keeps_backslashes_literal() -> None:
    # "\n" typed in a prompt must not become a line break, nor "\N" the node's name.
    assert dot_text(r"a\nb \N") == r"a\\nb \\N"
    assert dot_text('say "hi"') == 'say \\"hi\\"'


# --- files -----------------------------------------------------------------------------------


def test_render_text_formats(plan: Dialplan, tmp_path: Path) -> None:
    assert render(plan, tmp_path / "plan.mmd").read_text() == to_mermaid(plan)
    assert render(plan, tmp_path / "plan.dot").read_text() == to_dot(plan)
    assert render(plan, str(tmp_path / "plan.gv")).read_text() == to_dot(plan)


def test_render_refuses_an_unknown_suffix(plan: Dialplan, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.mmd, \.dot, \.svg or \.png"):
        render(plan, tmp_path / "plan.txt")


def test_render_without_graphviz_says_how_to_install_it(
    plan: Dialplan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        render(plan, tmp_path / "plan.svg")
    assert not (tmp_path / "plan.svg").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_render_svg_with_graphviz(plan: Dialplan, tmp_path: Path) -> None:
    svg = render(plan, tmp_path / "plan.svg").read_text()
    assert "<svg" in svg
    assert "greet (say)" in svg
    assert "&quot;Bob [&amp; Co] {Ltd}&quot;" in svg  # the escaped label survived


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_render_png_with_graphviz(plan: Dialplan, tmp_path: Path) -> None:
    png = render(plan, tmp_path / "plan.png").read_bytes()
    assert png.startswith(b"\x89PNG")


# --- bridge dialplan graph -------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="bridge")
    commands = parser.add_subparsers(dest="command")
    add_dialplan_arguments(commands.add_parser("dialplan"))
    args = parser.parse_args(["dialplan", "graph", *argv])
    result: int = args.handler(args, None)
    return result


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    path = tmp_path / "sample.yaml"
    path.write_text(SAMPLE)
    return path


def test_cli_prints_mermaid(sample_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(str(sample_file)) == 0
    assert capsys.readouterr().out == to_mermaid(load())


def test_cli_prints_dot(sample_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(str(sample_file), "--format", "dot") == 0
    assert capsys.readouterr().out == to_dot(load())


@pytest.mark.parametrize(("suffix", "render_text"), [(".mmd", to_mermaid), (".dot", to_dot)])
def test_cli_writes_the_format_of_the_suffix(
    sample_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
    render_text: object,
) -> None:
    out = tmp_path / f"out{suffix}"
    assert run_cli(str(sample_file), "-o", str(out)) == 0
    assert callable(render_text)
    assert out.read_text() == render_text(load())
    assert capsys.readouterr().out == ""  # stdout stays clean for pipes


def test_cli_refuses_a_broken_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(SAMPLE.replace("next: office", "next: ofice"))
    assert run_cli(str(path)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{path}:12: error: nodes.greet.next: no node named 'ofice'" in captured.err


def test_cli_without_graphviz(
    sample_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    assert run_cli(str(sample_file), "-o", str(tmp_path / "plan.png")) == 2
    assert "apt-get install graphviz" in capsys.readouterr().err


def test_cli_unknown_suffix(
    sample_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(str(sample_file), "-o", str(tmp_path / "plan.jpeg")) == 2
    assert "cannot tell the graph format" in capsys.readouterr().err
