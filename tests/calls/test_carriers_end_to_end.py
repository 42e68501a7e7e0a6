"""Every carrier, end to end: a Piper-synthesized question played into the bridge exactly as
that carrier delivers it (codec, framing, pacing, message shapes), and the agent's reply, as
the caller hears it, transcribed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
from conftest import RunningBridge

from bridge.caller.caller import ClientTransport, Say, SimulatedCaller
from bridge.caller.dial import dial_tcp, dial_websocket
from bridge.caller.wires import (
    CallerWire,
    audiosocket_wire,
    exotel_wire,
    jambonz_wire,
    plivo_wire,
    telnyx_wire,
    twilio_wire,
    vonage_wire,
)
from bridge.config import Settings
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.tts import PiperTTS
from bridge.testing.speech import word_error_rate

pytestmark = pytest.mark.slow
HOURS = "We are open from nine in the morning until five in the evening."


@pytest.fixture
def bridge_settings() -> Settings:
    return Settings(greeting="", audiosocket_port=0, default_dialplan="agent")


@contextlib.asynccontextmanager
async def dial(
    bridge: RunningBridge, wire: CallerWire, path: str
) -> AsyncIterator[ClientTransport]:
    if wire.transport == "tcp":
        port = bridge.app.state.runtime.audiosocket_port
        async with dial_tcp("127.0.0.1", port) as tcp:
            yield tcp
        return
    url = bridge.url.replace("http://", "ws://") + path
    headers = wire.headers
    async with dial_websocket(url, subprotocols=wire.subprotocols, headers=headers) as ws:
        yield ws


CASES: list[tuple[str, Callable[[], CallerWire], str]] = [
    ("twilio", twilio_wire, "/twilio/media"),
    ("signalwire", twilio_wire, "/signalwire/media"),
    ("telnyx-pcmu", lambda: telnyx_wire("PCMU"), "/telnyx/media"),
    ("telnyx-pcma", lambda: telnyx_wire("PCMA"), "/telnyx/media"),
    ("plivo-mulaw", plivo_wire, "/plivo/media"),
    ("plivo-l16-16k", lambda: plivo_wire("audio/x-l16", 16000), "/plivo/media"),
    ("vonage-16k", vonage_wire, "/vonage/media"),
    ("exotel", exotel_wire, "/exotel/media"),
    ("jambonz", jambonz_wire, "/jambonz/media"),
    ("audiosocket", audiosocket_wire, ""),
    ("shared-route-twilio", twilio_wire, "/media"),
    ("shared-route-vonage", lambda: vonage_wire(8000), "/media"),
    ("shared-route-jambonz", jambonz_wire, "/media"),
]


@pytest.mark.parametrize(("name", "make_wire", "path"), CASES, ids=[c[0] for c in CASES])
async def test_carrier_call_is_answered(
    bridge: RunningBridge,
    piper: PiperTTS,
    stt: SpeechToText,
    name: str,
    make_wire: Callable[[], CallerWire],
    path: str,
) -> None:
    wire = make_wire()
    async with dial(bridge, wire, path) as transport:
        caller = SimulatedCaller(wire, transport, tts=piper, stt=stt)
        (answer,) = await caller.run([Say("When are you open?")])
    assert word_error_rate(HOURS, answer.heard) <= 0.25, (answer.heard, bridge.llm.requests)
    assert answer.latency_ms is not None
