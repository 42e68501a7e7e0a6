"""``bridge call`` against ``make run``, exactly as the README documents it."""

from __future__ import annotations

import asyncio
import contextlib
import json
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


async def make_run_and_call(env: dict[str, str], *call_args: str) -> tuple[str, str, int, str]:
    """``make run`` with ``env``, then ``bridge call CALL_ARGS`` against it, as the README
    shows: (the call's stdout, its stderr, its exit status, the server's log)."""
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
            *call_args,
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
    with contextlib.suppress(AssertionError):
        await drain  # the rest of the log, up to the server's exit
    assert call.returncode is not None
    return out.decode(), err.decode(), call.returncode, "".join(log)


def clean_env(port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "OPENAI_"))}
    return env | {
        "BRIDGE_PORT": str(port),
        "BRIDGE_DEFAULT_DIALPLAN": "agent",  # the LLM answers (README: agent-only mode)
        "BRIDGE_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


async def test_bridge_call_talks_to_make_run() -> None:
    llm = ScriptedLLM(rules=[Rule(r"open|hours", Reply("We open at nine every morning."))])
    async with serve_app(llm.app()) as llm_url:
        env = clean_env(free_port(), OPENAI_BASE_URL=f"{llm_url}/v1", BRIDGE_LLM_MODEL="scripted")
        text, err, status, log = await make_run_and_call(env, "--say", "When are you open?")
    assert status == 0, (text, err[-2000:])
    greeting, answer = text.strip().splitlines()
    assert greeting.startswith("[listen] agent:")
    assert "help you" in greeting.lower()
    assert answer.startswith("[say 'When are you open?'] agent:")
    assert "nine" in answer.lower() or " 9 " in answer  # Whisper writes numbers either way
    assert "latency" in answer
    # The log names the LLM and says it answers, and logs the turn at info level.
    llm_line = next(json.loads(line) for line in log.splitlines() if "LLM endpoint" in line)
    assert llm_line["event"] == "LLM endpoint answers"
    assert llm_line["endpoint"] == f"{llm_url}/v1"
    assert llm_line["model"] == "scripted"
    turns = [json.loads(line) for line in log.splitlines() if '"event": "turn"' in line]
    assert any("nine" in t["said"] and t["latency_ms"] > 0 for t in turns), turns


async def test_the_offline_agent_answers_a_spoken_question_with_canned_replies() -> None:
    env = clean_env(free_port(), BRIDGE_LLM_BACKEND="canned")
    text, err, status, log = await make_run_and_call(env, "--say", "What are your opening hours?")
    assert status == 0, (text, err[-2000:])
    answer = text.strip().splitlines()[-1]
    assert answer.startswith("[say 'What are your opening hours?'] agent:")
    assert "in the morning until" in answer.lower()  # the canned opening hours
    assert "canned replies, not a language model" in log
