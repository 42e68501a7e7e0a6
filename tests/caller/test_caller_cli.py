"""``bridge call`` fails in one line, with a non-zero status, before loading any model."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.caller import cli
from bridge.caller.caller import TurnReport
from bridge.caller.wires import WIRES
from bridge.testing.serve import free_port

ROOT = Path(__file__).resolve().parents[2]


def bridge_call(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "bridge", "call", *args],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_bridge_running_is_one_line() -> None:
    port = free_port()
    result = bridge_call("--say", "Hello", BRIDGE_PORT=str(port))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"bridge call: no bridge at http://127.0.0.1:{port} — is `make run` running?\n"
    )


def test_a_closed_audiosocket_port_is_one_line() -> None:
    port = free_port()
    result = bridge_call("--carrier", "audiosocket", "--audiosocket", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"no AudioSocket server at 127.0.0.1:{port}" in result.stderr


def test_a_missing_wav_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "question.wav"
    result = bridge_call("--wav", str(missing))
    assert result.returncode == 1
    assert result.stderr == f"bridge call: cannot read {missing}: No such file or directory\n"


def test_a_call_that_ends_early_says_so_and_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def ended(args: argparse.Namespace) -> cli.CallResult:
        return cli.CallResult([TurnReport("listen", "Goodbye.", 300.0)], "say 'Hello'")

    monkeypatch.setattr(cli, "place_call", ended)
    assert cli.run_call_command(argparse.Namespace(json=False)) == 1
    out, err = capsys.readouterr()
    assert out == "[listen] agent: 'Goodbye.' (latency 300 ms)\n"
    assert err == "bridge call: the call ended before step [say 'Hello']\n"


def test_a_cut_reply_prints_what_was_heard() -> None:
    report = TurnReport("say 'Tell me a story'", "Once upon a time", 700.0, cut_off=True)
    assert cli.describe(report) == (
        "[say 'Tell me a story'] agent: 'Once upon a time' (latency 700 ms, cut off by the caller)"
    )


@pytest.mark.parametrize("carrier", sorted(WIRES))
def test_every_simulated_call_has_ids_of_its_own(carrier: str) -> None:
    first, second = WIRES[carrier](), WIRES[carrier]()
    assert first.opening() != second.opening()
