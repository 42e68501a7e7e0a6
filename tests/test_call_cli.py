"""``bridge call`` against ``make run``, exactly as the README documents it."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from bridge.testing.llm_server import Reply, Rule, ScriptedLLM
from bridge.testing.serve import free_port, serve_app

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


async def read_until(stream: asyncio.StreamReader, needle: str, seen: list[str]) -> None:
    while line := (await stream.readline()).decode():
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} never appeared:\n{''.join(seen)}")


async def test_bridge_call_talks_to_make_run() -> None:
    llm = ScriptedLLM(rules=[Rule(r"open|hours", Reply("We open at nine every morning."))])
    port = free_port()
    async with serve_app(llm.app()) as llm_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "OPENAI_"))}
        env |= {
            "BRIDGE_PORT": str(port),
            "BRIDGE_DEFAULT_DIALPLAN": "agent",  # the LLM answers (README: agent-only mode)
            "BRIDGE_LOG_FORMAT": "json",
            "OPENAI_BASE_URL": f"{llm_url}/v1",
            "PYTHONUNBUFFERED": "1",
        }
        server = await asyncio.create_subprocess_exec(
            "make",
            "--no-print-directory",
            "run",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        assert server.stdout is not None
        log: list[str] = []
        try:
            async with asyncio.timeout(120):
                await read_until(server.stdout, '"event": "ready"', log)
            drain = asyncio.create_task(read_until(server.stdout, "\0never\0", log))
            call = await asyncio.create_subprocess_exec(
                str(ROOT / ".venv/bin/bridge"),
                "call",
                "--say",
                "When are you open?",
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            async with asyncio.timeout(120):
                out, err = await call.communicate()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            await server.wait()
    drain.cancel()
    text = out.decode()
    assert call.returncode == 0, (text, err.decode()[-2000:])
    greeting, answer = text.strip().splitlines()
    assert greeting.startswith("[listen] agent:")
    assert "help you" in greeting.lower()
    assert answer.startswith("[say 'When are you open?'] agent:")
    assert "nine" in answer.lower() or " 9 " in answer  # Whisper writes numbers either way
    assert "latency" in answer
