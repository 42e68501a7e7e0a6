"""`bridge --help` and each command's help: a description, and help (with defaults) on
every option."""

from __future__ import annotations

import argparse

import pytest

from bridge.cli import build_parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found |= {f"{name} {k}": v for k, v in subcommands(sub).items()}
    return found


def test_top_level_help_is_prose_not_a_docstring() -> None:
    text = build_parser().format_help()
    assert "``" not in text
    assert "AI voice agent" in text
    assert "bridge call --say" in text  # an example to start from


@pytest.mark.parametrize("name", sorted(subcommands(build_parser())))
def test_every_command_has_a_description_and_every_option_has_help(name: str) -> None:
    parser = subcommands(build_parser())[name]
    assert parser.description, f"`bridge {name}` has no description"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        assert action.help, f"`bridge {name}` {action.option_strings or action.dest} has no help"
        has_default = action.default not in (None, False, [], argparse.SUPPRESS)
        if action.option_strings and has_default and action.dest != "steps":
            assert "default" in action.help, f"`bridge {name}` {action.option_strings}"
