"""``check_text`` and ``bridge dialplan check``: every kind of mistake, at its file:line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bridge.dialplan.check import DialplanInvalid, Problem, check_text, load_dialplan
from bridge.dialplan.cli import add_dialplan_arguments, run_check
from bridge.dialplan.schema import Transfer

VALID = """\
name: demo
description: A small but complete dialplan.
start: welcome
variables:
  operator_number: "+15550100100"
globals:
  - keys: "0"
    phrases: [operator]
    goto: operator
nodes:
  welcome:
    type: say
    text: Hello.
    next: office
  office:
    type: hours
    timezone: Europe/London
    open:
      mon-fri: "09:00-17:00"
    holidays: ["2025-12-25"]
    open_goto: menu
    closed_goto: bye
  menu:
    type: menu
    prompt: Press 1 for your PIN check.
    fallback: bye
    options:
      - keys: "1"
        phrases: [pin]
        goto: ask_pin
  ask_pin:
    type: gather
    input: dtmf
    prompt: Enter your PIN.
    digits: 4
    pattern: '^\\d{4}$'
    variable: pin
    timeout_s: 5
    next: check_pin
  check_pin:
    type: branch
    conditions:
      - if: pin == '1234' and not locked
        goto: bye
    else: operator
  operator:
    type: transfer
    target: "{{operator_number}}"
  bye:
    type: hangup
    text: Goodbye.
"""


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def line_with(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``fragment``."""
    found = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(found) >= occurrence, f"{fragment!r} not in the test text"
    return found[occurrence - 1]


def only_problem(text: str) -> Problem:
    _, problems = check_text(text, "plan.yaml")
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def only_error(text: str) -> Problem:
    """The one error; a wrong target also strands nodes, whose warnings are not the point."""
    _, problems = check_text(text, "plan.yaml")
    errors = [p for p in problems if not p.warning]
    assert len(errors) == 1, [str(p) for p in problems]
    return errors[0]


def broken(**replacements: str) -> str:
    """VALID with some lines replaced (each key must occur exactly once)."""
    text = VALID
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


# --- the valid plan --------------------------------------------------------------------------


def test_valid_dialplan_passes() -> None:
    plan, problems = check_text(VALID, "demo.yaml")
    assert problems == []
    assert plan is not None
    assert plan.name == "demo"
    assert list(plan.nodes) == [
        "welcome",
        "office",
        "menu",
        "ask_pin",
        "check_pin",
        "operator",
        "bye",
    ]


def test_load_dialplan_returns_the_checked_plan(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(VALID)
    assert load_dialplan(path).start == "welcome"


def test_load_dialplan_raises_with_every_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(broken(**{"next: check_pin": "next: nowhere", "else: operator": "else: x"}))
    with pytest.raises(DialplanInvalid) as raised:
        load_dialplan(path)
    messages = [p.message for p in raised.value.problems]
    assert len(messages) == 2  # both errors; the stranded node's warning is left out
    assert not any(p.warning for p in raised.value.problems)
    assert str(path) in str(raised.value)


def test_load_dialplan_reports_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(DialplanInvalid, match="cannot read"):
        load_dialplan(tmp_path / "missing.yaml")


# --- syntax and schema errors ----------------------------------------------------------------


def test_yaml_syntax_error_reports_its_line() -> None:
    text = dedent("""
        name: t
        start: a
        nodes:
          a:
            type: say
           text: badly indented
    """)
    problem = only_problem(text)
    assert problem.line == line_with(text, "badly indented")
    assert problem.message.startswith("invalid YAML")
    assert str(problem).startswith(f"plan.yaml:{problem.line}: error: invalid YAML")


def test_unclosed_flow_list_is_a_yaml_error() -> None:
    text = "name: t\nstart: a\nnodes:\n  a:\n    type: say\n    text: [unclosed\n    next: a\n"
    problem = only_problem(text)
    assert "invalid YAML" in problem.message
    assert problem.line in (6, 7)  # PyYAML notices at the next line


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- b\n", "just text\n"])
def test_a_dialplan_must_be_a_mapping(text: str) -> None:
    problem = only_problem(text)
    assert (problem.line, problem.warning) == (1, False)
    assert "must be a mapping" in problem.message


def test_unknown_node_type() -> None:
    text = broken(**{"type: say": "type: speak"})
    problem = only_problem(text)
    assert problem.line == line_with(text, "  welcome:")
    assert problem.message.startswith("nodes.welcome: Input tag 'speak'")
    assert "'gather'" in problem.message  # the message lists the known types


def test_missing_type_is_reported_at_the_node() -> None:
    text = broken(**{"    type: say\n": ""})
    problem = only_problem(text)
    assert problem.line == line_with(text, "  welcome:")
    assert "type" in problem.message


def test_gather_without_next() -> None:
    text = broken(**{"    next: check_pin\n": ""})
    problem = only_problem(text)
    assert problem.line == line_with(text, "  ask_pin:")
    assert problem.message == "nodes.ask_pin.next: Field required"


def test_missing_top_level_field() -> None:
    text = broken(**{"start: welcome\n": ""})
    problem = only_problem(text)
    assert problem.message == "start: Field required"


def test_negative_timeout() -> None:
    text = broken(**{"timeout_s: 5": "timeout_s: -1"})
    problem = only_problem(text)
    assert problem.line == line_with(text, "timeout_s: -1")
    assert problem.message == "nodes.ask_pin.timeout_s: Input should be greater than 0"


def test_unknown_field_is_rejected() -> None:
    text = broken(**{"    digits: 4\n": "    digits: 4\n    max_digits: 4\n"})
    problem = only_problem(text)
    assert problem.line == line_with(text, "max_digits")
    assert problem.message == "nodes.ask_pin.max_digits: Extra inputs are not permitted"


def test_unquoted_number_where_text_is_expected() -> None:
    # YAML reads `keys: 1` as a number: the author must quote it.
    text = broken(**{'keys: "1"': "keys: 1"})
    problem = only_problem(text)
    assert problem.line == line_with(text, "keys: 1")
    assert "nodes.menu.options.0.keys" in problem.message


def test_unknown_time_zone() -> None:
    text = broken(**{"timezone: Europe/London": "timezone: Mars/Olympus_Mons"})
    problem = only_problem(text)
    assert problem.line == line_with(text, "timezone:")
    assert problem.message == "nodes.office.timezone: unknown time zone 'Mars/Olympus_Mons'"


def test_several_schema_errors_are_all_reported_in_line_order() -> None:
    text = broken(**{"timeout_s: 5": "timeout_s: -1", "type: say": "type: speak"})
    _, problems = check_text(text, "plan.yaml")
    assert [p.line for p in problems] == sorted(p.line for p in problems)
    assert len(problems) == 2


# --- targets ---------------------------------------------------------------------------------


def test_undefined_next() -> None:
    text = broken(**{"next: check_pin": "next: nowhere"})
    problem = only_error(text)
    assert problem.line == line_with(text, "next: nowhere")
    assert problem.message == "nodes.ask_pin.next: no node named 'nowhere'"


def test_undefined_menu_option_target() -> None:
    text = broken(**{"goto: ask_pin": "goto: ask_pn"})
    problem = only_error(text)
    # The options list, or (if the checker gets more precise) the option's own goto.
    assert problem.line in (line_with(text, "options:"), line_with(text, "goto: ask_pn"))
    assert problem.message == "nodes.menu.options[0].goto: no node named 'ask_pn'"


def test_undefined_branch_condition_target() -> None:
    text = broken(**{"goto: bye\n    else": "goto: byebye\n    else"})
    problem = only_error(text)
    assert problem.line in (line_with(text, "conditions:"), line_with(text, "goto: byebye"))
    assert problem.message == "nodes.check_pin.conditions[0].goto: no node named 'byebye'"


def test_undefined_branch_else_target_is_reported() -> None:
    text = broken(**{"else: operator": "else: nobody"})
    problem = only_error(text)
    assert "no node named 'nobody'" in problem.message
    assert not problem.warning


def test_undefined_branch_else_target_points_at_else() -> None:
    text = broken(**{"else: operator": "else: nobody"})
    problem = only_error(text)
    assert problem.line == line_with(text, "else: nobody")
    assert problem.message == "nodes.check_pin.else: no node named 'nobody'"


def test_undefined_transfer_on_error_target() -> None:
    text = broken(
        **{'target: "{{operator_number}}"': 'target: "{{operator_number}}"\n    on_error: vm'}
    )
    problem = only_error(text)
    assert problem.line == line_with(text, "on_error: vm")
    assert problem.message == "nodes.operator.on_error: no node named 'vm'"


def test_transfer_on_error_target_counts_as_reachable() -> None:
    text = broken(
        **{'target: "{{operator_number}}"': 'target: "{{operator_number}}"\n    on_error: vm'}
    )
    text += "  vm:\n    type: record\n    prompt: Leave a message.\n    next: bye\n"
    plan, problems = check_text(text, "plan.yaml")
    assert problems == []
    assert plan is not None
    operator = plan.nodes["operator"]
    assert isinstance(operator, Transfer)
    assert (operator.on_error, operator.error_text) == (
        "vm",
        "I'm sorry, I can't transfer you right now.",
    )


def test_transfer_error_text_must_be_text() -> None:
    text = broken(
        **{'target: "{{operator_number}}"': 'target: "{{operator_number}}"\n    error_text: [a, b]'}
    )
    problem = only_problem(text)
    assert problem.line == line_with(text, "error_text:")
    assert problem.message.startswith("nodes.operator.error_text: ")


def test_undefined_global_target() -> None:
    text = broken(**{"goto: operator": "goto: reception"})
    problem = only_error(text)
    assert problem.line == line_with(text, "goto: reception")
    assert problem.message == "globals[0].goto: no node named 'reception'"


def test_undefined_start() -> None:
    text = broken(**{"start: welcome": "start: hello"})
    _, problems = check_text(text, "plan.yaml")
    errors = [p for p in problems if not p.warning]
    assert [(p.line, p.message) for p in errors] == [(3, "start: no node named 'hello'")]
    # Nothing is reachable from a start that does not exist, apart from the global's target.
    assert {p.message.split(":")[0] for p in problems if p.warning} == {
        f"nodes.{name}" for name in ("welcome", "office", "menu", "ask_pin", "check_pin", "bye")
    }


def test_node_named_default_gets_its_own_line() -> None:
    text = dedent("""
        name: t
        start: default
        nodes:
          default:
            type: gather
            timeout_s: -1
            next: default
    """)
    problem = only_problem(text)
    assert problem.line == line_with(text, "timeout_s: -1")
    assert problem.message.startswith("nodes.default.timeout_s")


# --- hours -----------------------------------------------------------------------------------


def test_bad_opening_hours_span() -> None:
    text = broken(**{'mon-fri: "09:00-17:00"': 'mon-fri: "9-5"'})
    problem = only_problem(text)
    assert problem.line == line_with(text, "mon-fri:")
    assert problem.message == "nodes.office.open: opening hours '9-5' must look like '09:00-17:00'"


def test_impossible_opening_time() -> None:
    text = broken(**{'mon-fri: "09:00-17:00"': 'mon-fri: "09:00-25:00"'})
    problem = only_problem(text)
    assert problem.line == line_with(text, "mon-fri:")
    assert "are not valid times" in problem.message


def test_bad_day_range() -> None:
    text = broken(**{'mon-fri: "09:00-17:00"': 'mon-fry: "09:00-17:00"'})
    problem = only_problem(text)
    assert problem.line == line_with(text, "mon-fry:")
    assert "unknown day range 'mon-fry'" in problem.message


def test_bad_holiday_date() -> None:
    text = broken(
        **{'holidays: ["2025-12-25"]': 'holidays:\n      - "2025-12-25"\n      - "2025-13-01"'}
    )
    problem = only_problem(text)
    assert problem.line == line_with(text, "2025-13-01")
    assert problem.message == "nodes.office.holidays: '2025-13-01' is not a date (YYYY-MM-DD)"


# --- conditions and other node checks --------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "construct"),
    [
        ("__import__('os')", "Call"),
        ("__import__('os').system('true')", "Call"),
        ("pin.upper() == 'X'", "Call"),
        ("pin.__class__ == 1", "Attribute"),
        ("pin[0] == '1'", "Subscript"),
        ("attempts + 1 > 3", "BinOp"),
    ],
)
def test_condition_with_forbidden_construct(condition: str, construct: str) -> None:
    text = broken(**{"if: pin == '1234' and not locked": f'if: "{condition}"'})
    problem = only_problem(text)
    assert problem.line == line_with(text, "if:")
    assert problem.message.startswith(f"nodes.check_pin: {construct} is not allowed")


def test_condition_that_does_not_parse() -> None:
    text = broken(**{"if: pin == '1234' and not locked": "if: pin =="})
    problem = only_problem(text)
    assert problem.line == line_with(text, "if: pin ==")
    assert "cannot parse condition" in problem.message


def test_bad_regular_expression() -> None:
    text = broken(**{"pattern: '^\\d{4}$'": "pattern: '^(\\d{4}$'"})
    problem = only_problem(text)
    assert problem.line == line_with(text, "pattern:")
    assert problem.message.startswith("nodes.ask_pin.pattern:")


def test_record_silence_must_be_shorter_than_the_message() -> None:
    text = dedent("""
        name: t
        start: rec
        nodes:
          rec:
            type: record
            max_s: 5
            silence_s: 10
            next: bye
          bye:
            type: hangup
    """)
    problem = only_problem(text)
    assert problem.line == line_with(text, "silence_s")
    assert problem.message == "nodes.rec: silence_s must be below max_s"


# --- warnings --------------------------------------------------------------------------------


def test_unreachable_node_is_a_warning() -> None:
    text = VALID + "  orphan:\n    type: say\n    text: Nobody hears me.\n"
    plan, problems = check_text(text, "plan.yaml")
    assert plan is not None  # warnings do not block
    assert len(problems) == 1
    problem = problems[0]
    assert problem.warning
    assert problem.line == line_with(text, "  orphan:")
    assert str(problem) == (
        f"plan.yaml:{problem.line}: warning: nodes.orphan: unreachable from start 'welcome'"
    )


def test_a_global_target_counts_as_reachable() -> None:
    # "operator" is only reached through the global handler and the branch's else; drop the
    # else and it must still count as reachable.
    text = broken(**{"else: operator": "else: bye"})
    assert check_text(text, "plan.yaml")[1] == []


# --- bridge dialplan check -------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    """Parse as ``bridge`` will (a ``dialplan`` sub-parser) and call the chosen handler."""
    parser = argparse.ArgumentParser(prog="bridge")
    commands = parser.add_subparsers(dest="command")
    add_dialplan_arguments(commands.add_parser("dialplan"))
    args = parser.parse_args(["dialplan", *argv])
    result: int = args.handler(args, None)
    return result


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "good": VALID,
        "warned": VALID + "  orphan:\n    type: hangup\n",
        "bad": broken(**{"timeout_s: 5": "timeout_s: -1", "type: say": "type: speak"}),
        "bad_target": broken(**{"next: check_pin": "next: nowhere"}),
    }
    written = {}
    for name, text in paths.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        written[name] = path
    return written


def test_cli_clean_file(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("check", str(files["good"])) == 0
    assert capsys.readouterr().out == f"{files['good']}: ok\n"


def test_cli_broken_file(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    bad = files["bad"]
    assert run_cli("check", str(bad)) == 1
    lines = capsys.readouterr().out.splitlines()
    text = bad.read_text()
    assert lines == [
        f"{bad}:{line_with(text, '  welcome:')}: error: nodes.welcome: "
        + lines[0].split(": nodes.welcome: ", 1)[1],
        f"{bad}:{line_with(text, 'timeout_s: -1')}: error: "
        "nodes.ask_pin.timeout_s: Input should be greater than 0",
    ]
    assert "Input tag 'speak'" in lines[0]


def test_cli_checks_every_file_and_fails_if_any_has_an_error(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    names = [str(files[name]) for name in ("good", "bad_target", "warned")]
    assert run_cli("check", *names) == 1
    out = capsys.readouterr().out.splitlines()
    target_line = line_with(files["bad_target"].read_text(), "next: nowhere")
    orphan_line = line_with(files["warned"].read_text(), "  orphan:")
    stranded = line_with(files["bad_target"].read_text(), "  check_pin:")
    assert out == [
        f"{names[0]}: ok",
        f"{names[1]}:{target_line}: error: nodes.ask_pin.next: no node named 'nowhere'",
        f"{names[1]}:{stranded}: warning: nodes.check_pin: unreachable from start 'welcome'",
        f"{names[2]}:{orphan_line}: warning: nodes.orphan: unreachable from start 'welcome'",
        f"{names[2]}: ok (1 warning)",
    ]


def test_cli_warnings_alone_pass_unless_strict(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("check", str(files["warned"])) == 0
    assert run_cli("check", "--strict", str(files["warned"])) == 1
    out = capsys.readouterr().out
    assert out.count("warning: nodes.orphan") == 2
    assert out.count(": ok") == 1  # only the non-strict run calls it ok


def test_cli_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert run_cli("check", str(missing)) == 1
    assert capsys.readouterr().out.startswith(f"{missing}:1: error: cannot read:")


def test_cli_yaml_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: t\nstart: a\nnodes:\n\ta: 1\n")
    assert run_cli("check", str(path)) == 1
    assert capsys.readouterr().out.startswith(f"{path}:4: error: invalid YAML")


def test_cli_needs_a_file_and_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as no_files:
        run_cli("check")
    with pytest.raises(SystemExit) as no_command:
        run_cli()
    assert no_files.value.code == no_command.value.code == 2
    capsys.readouterr()


def test_run_check_works_with_a_plain_namespace(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # The handler does not depend on the parser: (args, settings) as bridge/cli.py calls it.
    assert run_check(argparse.Namespace(files=[str(files["good"])]), None) == 0
    assert capsys.readouterr().out.endswith(": ok\n")


@pytest.mark.slow
def test_bridge_dialplan_check_as_a_command(files: dict[str, Path]) -> None:
    """The real ``bridge dialplan check`` (as wired into ``bridge/cli.py``), in a subprocess."""
    root = Path(__file__).resolve().parents[2]
    # Settings come from BRIDGE_* variables; the host's must not make start-up fail.
    env = {key: value for key, value in os.environ.items() if not key.startswith("BRIDGE_")}
    command = [sys.executable, "-m", "bridge", "dialplan", "check"]
    clean = subprocess.run(
        [*command, str(files["good"]), *map(str, sorted(root.glob("dialplans/*.yaml")))],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.splitlines()[0] == f"{files['good']}: ok"
    broken_run = subprocess.run(
        [*command, str(files["bad_target"])],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert broken_run.returncode == 1
    line = line_with(files["bad_target"].read_text(), "next: nowhere")
    assert f"{files['bad_target']}:{line}: error: nodes.ask_pin.next:" in broken_run.stdout


def test_duplicate_keys_and_overnight_spans_are_reported() -> None:
    duplicate = "name: d\nstart: a\nnodes:\n  a: {type: hangup}\n  a: {type: hangup}\n"
    _, problems = check_text(duplicate, "dup.yaml")
    assert [str(p) for p in problems] == ["dup.yaml:5: error: duplicate key 'a'"]
    overnight = (
        "name: h\nstart: h\nnodes:\n  h:\n    type: hours\n    open: {mon-fri: '22:00-02:00'}\n"
        "    open_goto: x\n    closed_goto: x\n  x: {type: hangup}\n"
    )
    _, problems = check_text(overnight, "h.yaml")
    assert any(p.line == 6 and "must end after they start" in p.message for p in problems)
