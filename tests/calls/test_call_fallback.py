"""An LLM that never answers: the caller hears the spoken fallback, not silence."""

from __future__ import annotations

import pytest
from conftest import RunningBridge

from bridge.caller.caller import Say, SimulatedCaller
from bridge.caller.dial import dial_websocket
from bridge.caller.wires import twilio_wire
from bridge.config import Settings
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.tts import PiperTTS
from bridge.testing.llm_server import ScriptedLLM
from bridge.testing.speech import word_error_rate

pytestmark = pytest.mark.slow


@pytest.fixture
def llm_script() -> ScriptedLLM:
    return ScriptedLLM(hang=True)


@pytest.fixture
def bridge_settings() -> Settings:
    return Settings(greeting="", default_dialplan="agent")


async def test_llm_timeout_is_answered_with_the_fallback_message(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    url = bridge.url.replace("http://", "ws://") + "/twilio/media"
    async with dial_websocket(url) as transport:
        caller = SimulatedCaller(twilio_wire(), transport, tts=piper, stt=stt, reply_timeout_s=20)
        (report,) = await caller.run([Say("Hello, is anybody there?")])
    assert word_error_rate(bridge.settings.fallback_message, report.heard) <= 0.25, report.heard
    assert report.latency_ms is not None
    assert report.latency_ms >= 5000  # the LLM's 5 s timeout ran out first
