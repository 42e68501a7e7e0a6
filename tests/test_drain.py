"""SIGTERM on a real `bridge serve` with two Twilio calls live: the bridge stops taking calls at
once (readiness fails, a new call gets 503, liveness stays green), the call that is talking
finishes its turn after the signal, the silent one hears the goodbye at BRIDGE_DRAIN_TIMEOUT_S
and is hung up, and then the process exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import websockets
from metrics_support import metric_value

from bridge.caller.caller import Listen, Say, SimulatedCaller, Step, TurnReport
from bridge.caller.dial import dial_websocket
from bridge.caller.wires import twilio_wire
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.tts import PiperTTS
from bridge.testing.serve import free_port
from bridge.testing.speech import contains_phrase

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
DRAIN_TIMEOUT_S = 15.0
GOODBYE = "We are closing now. Goodbye."


class Server:
    """`bridge serve` in a subprocess, its log read on a thread (a full pipe would stall it)."""

    def __init__(self, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "OPENAI_"))}
        env |= {
            "BRIDGE_PORT": str(port),
            "BRIDGE_LOG_FORMAT": "json",
            "BRIDGE_LLM_BACKEND": "canned",
            "BRIDGE_DEFAULT_DIALPLAN": "agent",
            "BRIDGE_DRAIN_TIMEOUT_S": str(DRAIN_TIMEOUT_S),
            "BRIDGE_DRAIN_GOODBYE": GOODBYE,
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bridge", "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        with stdout:
            for line in stdout:
                self.lines.append(line)

    async def wait_for(self, needle: str, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(needle in line for line in self.lines):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{needle!r} not logged:\n{''.join(self.lines)}")
            await asyncio.sleep(0.05)

    @property
    def log(self) -> str:
        return "".join(self.lines)


async def call(
    url: str, steps: list[Step], tts: PiperTTS, stt: SpeechToText | None
) -> tuple[SimulatedCaller, list[TurnReport]]:
    async with dial_websocket(url) as transport:
        caller = SimulatedCaller(twilio_wire(), transport, tts=tts, stt=stt, reply_timeout_s=30)
        return caller, await caller.run(steps)


async def test_sigterm_drains_finishes_the_live_turn_says_goodbye_and_exits_0(
    piper: PiperTTS, stt: SpeechToText
) -> None:
    port = free_port()
    server = Server(port)
    base, media = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/twilio/media"
    try:
        await server.wait_for('"event": "ready"')
        talking = asyncio.create_task(
            call(media, [Listen(), Say("What are your hours?")], tts=piper, stt=None)
        )
        silent = asyncio.create_task(
            call(media, [Listen(), Listen(timeout_s=60)], tts=piper, stt=stt)
        )
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(200):
                page = (await client.get("/metrics")).text
                if metric_value(page, "bridge_live_calls", door="carrier") == 2:
                    break
                await asyncio.sleep(0.05)
            server.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            await server.wait_for("draining before stopping", timeout_s=5)
            ready = await client.get("/readyz")
            assert (ready.status_code, ready.json()["status"]) == (503, "draining")
            assert (await client.get("/healthz")).status_code == 200
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(media):
                    pass
            assert refused.value.response.status_code == 503
            assert "Retry-After" in refused.value.response.headers

        # The call that was talking finishes its turn, after the signal, and hangs up itself.
        _, (_greeting, answer) = await asyncio.wait_for(talking, 60)
        assert answer.latency_ms is not None, answer
        assert len(answer.heard_pcm) > 16_000  # a second and more of the reply
        assert time.monotonic() - signalled < DRAIN_TIMEOUT_S
        assert server.process.poll() is None  # the silent call is still live

        # The silent one hears the goodbye once the drain timeout passes, and is hung up.
        caller, reports = await asyncio.wait_for(silent, 60)
        assert time.monotonic() - signalled >= DRAIN_TIMEOUT_S - 1
        assert caller.state.hung_up
        assert contains_phrase(reports[-1].heard, "goodbye"), reports[-1].heard
        assert server.process.wait(timeout=30) == 0, server.log
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
    log = server.log
    assert '"event": "hung up a call to finish draining"' in log, log
    assert '"event": "drained"' in log
    assert "Finished server process" in log
