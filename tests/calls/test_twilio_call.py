"""A phone call over Twilio Media Streams, end to end, with the simulated caller."""

from __future__ import annotations

import pytest
from conftest import RunningBridge

from bridge.caller.caller import Listen, Say, SimulatedCaller
from bridge.caller.dial import dial_websocket
from bridge.caller.wires import twilio_wire
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.tts import PiperTTS
from bridge.testing.speech import word_error_rate

pytestmark = pytest.mark.slow
HOURS = "We are open from nine in the morning until five in the evening."


async def test_caller_hears_the_greeting_and_the_answer(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    url = bridge.url.replace("http://", "ws://") + "/twilio/media"
    async with dial_websocket(url) as transport:
        caller = SimulatedCaller(
            twilio_wire({"From": "+15550001111"}), transport, tts=piper, stt=stt
        )
        greeting, answer = await caller.run([Listen(), Say("What are your opening hours?")])
    assert word_error_rate(bridge.settings.greeting, greeting.heard) <= 0.25, greeting.heard
    assert word_error_rate(HOURS, answer.heard) <= 0.25, (answer.heard, bridge.llm.requests)
    assert answer.latency_ms is not None
    assert bridge.llm.requests[-1]["messages"][-1]["content"].lower().startswith("what are your")
