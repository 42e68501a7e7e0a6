"""Headless Chromium calls the bridge from the softphone page, with a WAV as its microphone.

Debian's ``chromium`` driven by Playwright (``executable_path``: no browser download). The
page loads from the bridge, places real calls over WebRTC, and records what its line played;
the recording is transcribed here. Waits are on the page's own state (its transcript, its
measurements), bounded; screenshots of the page are saved under pytest's tmp_path.
"""

from __future__ import annotations

import asyncio
import base64
import wave
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aioice.ice
import numpy as np
import pytest
from conftest import RunningBridge

from bridge.audio import StreamResampler
from bridge.dialplan.calls import call_flow
from bridge.dialplan.check import load_dialplan
from bridge.dialplan.routing import DialplanRouter
from bridge.pipeline.stt import SpeechToText
from bridge.testing.speech import contains_phrase

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
RATE = 48_000
RECEPTION = Path(__file__).resolve().parents[2] / "dialplans" / "reception.yaml"
LONDON_MONDAY_MORNING = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def write_wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm)
    return path


def timeline(
    speak: Callable[[str, int], bytes], parts: list[tuple[float, str]], end_s: float
) -> bytes:
    """Speech placed at given seconds from the start of the microphone, silence between."""
    pcm = bytearray()
    for at_s, text in parts:
        pcm += bytes(max(0, int(at_s * RATE) * 2 - len(pcm)))
        pcm += speak(text, RATE)
    pcm += bytes(max(0, int(end_s * RATE) * 2 - len(pcm)))
    return bytes(pcm)


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bridge's peer offers only 127.0.0.1 (as aioice's own tests do)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def launch_args(microphone: Path) -> list[str]:
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}%noloop",
        "--autoplay-policy=no-user-gesture-required",
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
    ]


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (CI installs it)")
    return CHROMIUM


@pytest.fixture
async def browser_for(chromium: Path) -> AsyncIterator[Callable[[Path], Any]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browsers: list[Any] = []

        async def launch(microphone: Path) -> Any:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium), headless=True, args=launch_args(microphone)
            )
            browsers.append(browser)
            return browser

        yield launch
        for browser in browsers:
            await browser.close()


async def wait_for(page: Any, condition: str, timeout_s: float, shots: Path) -> None:
    try:
        await page.wait_for_function(condition, timeout=timeout_s * 1000, polling=100)
    except Exception:
        await page.screenshot(path=str(shots / "failed.png"))
        stats = await page.evaluate("window.softphone.stats()")
        raise AssertionError(f"page never reached {condition}: {stats}") from None


def without_long_silences(pcm16k: bytes, keep_ms: int = 400) -> bytes:
    """The recording with silences cut to ``keep_ms``: Whisper reads one 30 s window."""
    samples = np.frombuffer(pcm16k, dtype=np.int16)
    frames = samples[: len(samples) // 320 * 320].reshape(-1, 320)  # 20 ms
    quiet = np.abs(frames).max(axis=1) < 200
    kept, run = [], 0
    for frame, silent in zip(frames, quiet, strict=True):
        run = run + 1 if silent else 0
        if run * 20 <= keep_ms:
            kept.append(frame)
    return np.concatenate(kept).tobytes() if kept else b""


async def heard(page: Any, stt: SpeechToText) -> str:
    recording = await page.evaluate("window.softphone.heard()")
    pcm = base64.b64decode(recording["pcm"])
    pcm16k = StreamResampler(recording["rate"], 16_000).process(pcm)
    return (await stt.transcribe(without_long_silences(pcm16k))).text


async def call_ended(bridge: RunningBridge) -> None:
    """The page hung up: the call, its admission and its peer are all gone."""
    runtime = bridge.app.state.runtime
    async with asyncio.timeout(10):
        await runtime.calls.wait_empty()
        await runtime.admission.wait_idle()
        for peer in list(runtime.webrtc.peers.live):
            await peer.ended.wait()
    assert runtime.sessions == 0
    assert len(runtime.webrtc.peers) == 0


AGENT_SAID = "[...window.softphone.stats().transcript].filter(t => t.role === 'assistant')"


async def test_softphone_calls_the_agent_and_barges_in(
    bridge: RunningBridge,
    speak: Callable[[str, int], bytes],
    stt: SpeechToText,
    browser_for: Callable[[Path], Any],
    loopback_ice: None,
    tmp_path: Path,
) -> None:
    bridge.configure(greeting="")  # the caller speaks first: the microphone file sets the pace
    microphone = write_wav(
        tmp_path / "caller.wav",
        timeline(
            speak,
            [(2.0, "Please tell me a long story."), (11.0, "What are your opening hours?")],
            24.0,
        ),
    )
    browser = await browser_for(microphone)
    page = await browser.new_page()
    await page.goto(f"{bridge.url}/?aec=0")
    await wait_for(page, "window.softphone && window.softphone.state === 'idle'", 10, tmp_path)
    await page.fill("#number", "agent")
    await page.click("#call")
    await wait_for(page, "window.softphone.state === 'in-call'", 10, tmp_path)

    # The long reply starts, the caller talks over it, and the line goes quiet.
    await wait_for(page, "window.softphone.stats().bargeIns.length > 0", 30, tmp_path)
    await page.screenshot(path=str(tmp_path / "barge-in.png"))
    # Then the question asked over it is answered.
    answered = f"{AGENT_SAID}.some(t => /open/i.test(t.text))"
    await wait_for(page, "window.softphone.stats().turns.length >= 2", 20, tmp_path)
    await wait_for(page, answered, 20, tmp_path)
    await wait_for(page, "!window.softphone.stats().speaking.line", 15, tmp_path)  # heard out
    await page.screenshot(path=str(tmp_path / "agent-call.png"))
    stats = await page.evaluate("window.softphone.stats()")
    await page.click("#hangup")
    await call_ended(bridge)

    said = await heard(page, stt)
    print(f"screenshots in {tmp_path}; turns {stats['turns']} ms; barge-ins {stats['bargeIns']}")
    print(f"heard: {said!r}")
    assert contains_phrase(said, "part one"), said
    # The answer to the second question was heard (not one word of it, which Whisper can mishear
    # when the page records on a loaded machine: "open for nine").
    assert contains_phrase(said, "nine in the morning"), said
    assert "conversation.item.truncated" in stats["events"]
    (barge,) = stats["bargeIns"]
    assert barge["stopped_after_ms"] < 1500, stats
    assert [t for t in stats["transcript"] if t["role"] == "user"], stats


async def test_softphone_navigates_the_reception_menu_with_the_keypad(
    bridge: RunningBridge,
    stt: SpeechToText,
    browser_for: Callable[[Path], Any],
    loopback_ice: None,
    tmp_path: Path,
) -> None:
    runtime = bridge.app.state.runtime
    runtime.router = DialplanRouter([], load_dialplan(RECEPTION))
    runtime.call_flow = call_flow(
        runtime.router, bridge.settings, now=lambda: LONDON_MONDAY_MORNING
    )
    quiet = write_wav(tmp_path / "quiet.wav", bytes(RATE * 2 * 40))
    browser = await browser_for(quiet)
    page = await browser.new_page()
    await page.goto(f"{bridge.url}/?aec=0")
    await wait_for(page, "window.softphone && window.softphone.state === 'idle'", 10, tmp_path)
    assert await page.locator("#directory button[data-number='reception']").count() == 1
    await page.click("#directory button[data-number='reception']")
    await page.click("#call")
    await wait_for(page, "window.softphone.state === 'in-call'", 10, tmp_path)

    # The welcome and the menu's first option are heard, then 3 is pressed over the menu.
    await wait_for(
        page, f"{AGENT_SAID}.length >= 1 && window.softphone.stats().audibleMs > 5000", 30, tmp_path
    )
    await page.click("#keypad button:text-is('3')")
    await wait_for(page, f"{AGENT_SAID}.some(t => /Monday to Friday/i.test(t.text))", 20, tmp_path)
    audible = await page.evaluate("window.softphone.stats().audibleMs")
    await wait_for(page, f"window.softphone.stats().audibleMs > {audible + 3000}", 15, tmp_path)
    await page.screenshot(path=str(tmp_path / "reception-call.png"))
    await page.click("#hangup")
    await call_ended(bridge)

    said = await heard(page, stt)
    print(f"screenshots in {tmp_path}; heard: {said!r}")
    assert contains_phrase(said, "for sales"), said
    assert contains_phrase(said, "we are open monday to friday"), said
