"""The call adapter on an in-memory connection: hooks a dialplan can use."""

from __future__ import annotations

import asyncio

import pytest
from conftest import RunningBridge

from bridge.caller.caller import Press, Say, SimulatedCaller
from bridge.caller.wires import jambonz_wire
from bridge.calls.call import Call, CallHooks
from bridge.carriers.base import CallStarted
from bridge.carriers.jambonz import JambonzCodec
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.tts import PiperTTS
from bridge.testing.memory import memory_pipe
from bridge.testing.speech import word_error_rate

pytestmark = pytest.mark.slow
HOURS = "We are open from nine in the morning until five in the evening."


async def test_hooks_see_the_start_and_each_digit(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    runtime = bridge.app.state.runtime
    starts: list[CallStarted] = []
    digits: list[str] = []
    hooks = CallHooks(on_start=[starts.append], on_dtmf=[digits.append])
    bridge_end, caller_end = memory_pipe()
    call = Call(
        JambonzCodec(), bridge_end, engines=runtime.engines, settings=bridge.settings, hooks=hooks
    )
    serving = asyncio.create_task(call.run())
    caller = SimulatedCaller(jambonz_wire(), caller_end, tts=piper, stt=stt)
    reports = await caller.run([Press("7*"), Say("When are you open?")])
    await serving
    assert starts[0].media.sample_rate == 8000
    assert starts[0].from_number == "15551230001"
    assert digits == ["7", "*"]
    assert reports[0].latency_ms is not None
    assert word_error_rate(HOURS, reports[1].heard) <= 0.25
