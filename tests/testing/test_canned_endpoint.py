"""The canned replies run on their own, as an OpenAI-compatible endpoint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from bridge.testing.serve import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_python_m_llm_server_serves_canned_replies() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.testing.llm_server", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"canned replies (not a language model) at http://127.0.0.1:{port}/v1" in banner
        body = {"model": "any", "messages": [{"role": "user", "content": "When are you open?"}]}
        # The port is bound before the banner is printed: no waiting needed.
        reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=30)
        text = reply.json()["choices"][0]["message"]["content"]
        assert "nine in the morning" in text
    finally:
        process.terminate()
        process.communicate(timeout=10)  # also closes the pipe
