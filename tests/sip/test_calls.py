"""SIP calls end to end: sipp does the signalling, a simulated phone the RTP (Piper speech in
20 ms packets, RFC 4733 keys), and what the bridge says back is transcribed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import RunningBridge

from bridge.caller.caller import Listen, Press, Say, SimulatedCaller
from bridge.caller.dial import RtpClient, open_rtp
from bridge.caller.wires import rtp_wire
from bridge.config import Settings
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.tts import PiperTTS
from bridge.sip.server import SipServer
from bridge.testing.sipp import SippResult, run_sipp
from bridge.testing.speech import word_error_rate

pytestmark = pytest.mark.slow
SCENARIOS = Path(__file__).parent / "scenarios"
CODE_FLOW = Path(__file__).parent / "dialplans" / "code.yaml"
HOURS = "We are open from nine in the morning until five in the evening."


@pytest.fixture
def bridge_settings(request: pytest.FixtureRequest) -> Settings:
    extra = getattr(request, "param", {})
    base = {"greeting": "", "sip_port": 0, "default_dialplan": "agent"}
    return Settings(**{**base, **extra})


def sip_of(bridge: RunningBridge) -> SipServer:
    server = bridge.app.state.runtime.sip
    assert server is not None
    return server  # type: ignore[no-any-return]


def target(bridge: RunningBridge) -> str:
    return f"127.0.0.1:{sip_of(bridge).port}"


async def sipp_call(
    bridge: RunningBridge, scenario: str, phone: RtpClient, **variables: str
) -> asyncio.Task[SippResult]:
    return asyncio.create_task(
        run_sipp(
            SCENARIOS / scenario,
            target(bridge),
            variables={"rtp_port": str(phone.port), **variables},
            timeout_s=90,
        )
    )


@pytest.mark.parametrize("bridge_settings", [{"default_dialplan": str(CODE_FLOW)}], indirect=True)
async def test_a_caller_keys_a_code_talks_to_the_agent_and_the_bridge_hangs_up(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    async with open_rtp() as phone:
        sipp = await sipp_call(bridge, "call_until_bye.xml", phone)
        caller = SimulatedCaller(rtp_wire(), phone, tts=piper, stt=stt)
        prompt, keyed, hours, goodbye = await caller.run(
            [Listen(), Press("42"), Say("When are you open?"), Say("Goodbye.")]
        )
        result = await sipp
    assert result.ok, result.explain()  # the bridge's BYE ended sipp's call
    assert word_error_rate("Please enter your two digit code.", prompt.heard) <= 0.2, prompt
    assert "42" in keyed.heard.replace(" ", ""), keyed  # the dialplan got both keys
    assert word_error_rate(HOURS, hours.heard) <= 0.25, hours
    assert "goodbye" in goodbye.heard.lower(), goodbye
    (summary,) = sip_of(bridge).finished
    assert summary.answered
    assert summary.ended_by == "bridge"
    assert summary.packets_in > 100
