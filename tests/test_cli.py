"""The two commands a newcomer types, run for real as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bridge.testing.serve import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def bridge_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "OPENAI_"))}
    env.update({"BRIDGE_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1", **extra})
    return env


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout_s: float = 120) -> str:
    """Read the server's log until ``needle`` appears (bounded by time and by the process)."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break  # the process exited
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} not logged; got:\n{''.join(seen)}")


@pytest.fixture
def port() -> int:
    return free_port()


def start(command: list[str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=bridge_env(BRIDGE_PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so the whole group (make and the server) can be signalled
    )


@pytest.fixture
def make_run(port: int) -> Iterator[subprocess.Popen[str]]:
    process = start(["make", "--no-print-directory", "run"], port)
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.stdout is not None
    process.stdout.close()


def test_make_run_serves_ready_with_the_bundled_models_and_no_network(
    make_run: subprocess.Popen[str], port: int
) -> None:
    wait_for_line(make_run, '"event": "ready"')
    base = f"http://127.0.0.1:{port}"
    ready = httpx.get(f"{base}/readyz").json()
    assert ready["status"] == "ready"
    assert ready["devices"]["stt"] == {"device": "cpu", "compute_type": "int8", "batch": 1}
    models = {m["id"] for m in httpx.get(f"{base}/v1/models").json()["data"]}
    assert {"tiny.en", "en_US-joe-medium"} <= models
    os.killpg(make_run.pid, signal.SIGTERM)  # as Ctrl-C or a service manager would
    assert make_run.stdout is not None
    rest = make_run.stdout.read()
    make_run.wait(timeout=30)
    assert '"event": "stopped"' in rest, rest
    assert "make: ***" not in rest, rest  # no "[Makefile: run] Terminated" after a clean stop


def test_sigterm_shuts_down_gracefully(port: int) -> None:
    process = start([sys.executable, "-m", "bridge", "serve", "--port", str(port)], port)
    try:
        wait_for_line(process, '"event": "ready"')
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    # A shutdown that was asked for and went well is a success.
    assert process.returncode == 0, out
    assert "Application shutdown complete" in out
    assert "Finished server process" in out


def test_a_bad_setting_stops_start_up_with_a_message_naming_the_key() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "serve"],
        cwd=ROOT,
        env=bridge_env(BRIDGE_PORT="eighty"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "BRIDGE_PORT" in result.stderr
    assert "Traceback" not in result.stderr
