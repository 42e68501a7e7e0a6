"""The README's examples are real: the realtime snippet is examples/realtime_text.py, shown
verbatim and run here against a bridge; the dialplan shown is an excerpt of the shipped file;
the dialplan tools run as shown."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.app import create_app
from bridge.config import Settings
from bridge.pipeline.canned_llm import CannedLLM
from bridge.testing.fakes import Fakes
from bridge.testing.serve import serve_app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.MULTILINE | re.DOTALL)


def test_the_realtime_snippet_is_the_example_file() -> None:
    example = (ROOT / "examples/realtime_text.py").read_text()
    assert example in code_blocks("python")


async def test_the_realtime_snippet_runs_and_prints_the_answer() -> None:
    engines = dataclasses.replace(Fakes().engines(), llm=CannedLLM())
    app = create_app(Settings(api_keys=[], dialplans_dir=str(ROOT / "dialplans")), engines)
    async with serve_app(app) as url:
        code = (ROOT / "examples/realtime_text.py").read_text()
        code = code.replace("ws://127.0.0.1:8080", url.replace("http://", "ws://"))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):
            out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert "nine in the morning" in out.decode()


def test_the_dialplan_shown_is_an_excerpt_of_the_shipped_bank_yaml() -> None:
    (shown,) = [block for block in code_blocks("yaml") if "name: bank" in block]
    shipped = (ROOT / "dialplans/bank.yaml").read_text()
    # "# ..." lines mark what the README leaves out; every other line is the file's own.
    for chunk in re.split(r"^\s*# \.\.\.\n", shown, flags=re.MULTILINE):
        assert chunk in shipped, chunk


def test_the_dialplan_tools_run_as_shown(tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed (apt-get install graphviz; `make test` does)")
    shell = next(b for b in code_blocks("sh") if "bridge dialplan check" in b)
    for line in shell.splitlines():
        command = line.split("#")[0].split()
        command = [str(tmp_path / "bank.svg") if c == "bank.svg" else c for c in command]
        files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "dialplans").glob("*.yaml"))
        argv = [a for c in command[1:] for a in (files if c == "dialplans/*.yaml" else [c])]
        result = subprocess.run(
            [sys.executable, "-m", "bridge", *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, (line, result.stdout, result.stderr)
