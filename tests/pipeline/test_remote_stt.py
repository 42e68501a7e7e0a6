"""The remote STT backend (BRIDGE_STT_BACKEND=openai) against a local OpenAI-compatible
transcription server backed by the real faster-whisper model: a spoken turn transcribes, and
a phone call works end to end through it, as it does with the local model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from conftest import RunningBridge

from bridge.app import create_app
from bridge.caller.caller import Listen, Say, SimulatedCaller
from bridge.caller.dial import dial_websocket
from bridge.caller.wires import twilio_wire
from bridge.config import Settings
from bridge.pipeline.engines import Engines
from bridge.pipeline.llm import ChatLLM
from bridge.pipeline.stt import (
    OpenAITranscriber,
    SpeechToText,
    STTError,
    create_stt,
    pcm16k_to_wav,
)
from bridge.pipeline.tts import ClauseCache, PiperTTS
from bridge.pipeline.vad import SileroVad
from bridge.testing.llm_server import ScriptedLLM
from bridge.testing.serve import free_port, serve_app
from bridge.testing.speech import word_error_rate
from bridge.testing.stt_server import TranscriptionServer

pytestmark = pytest.mark.slow
HOURS = "We are open from nine in the morning until five in the evening."


@pytest.fixture
async def stt_server(stt: SpeechToText) -> AsyncIterator[tuple[str, TranscriptionServer]]:
    server = TranscriptionServer(stt)
    async with serve_app(server.app()) as url:
        yield f"{url}/v1", server


async def test_a_spoken_turn_transcribes_through_the_endpoint(
    stt_server: tuple[str, TranscriptionServer], speak: Callable[[str, int], bytes]
) -> None:
    url, server = stt_server
    remote = OpenAITranscriber(
        base_url=url, api_key="", model="whisper-1", timeout_s=30, prompt="Opening hours."
    )
    try:
        said = "What are your opening hours?"
        transcript = await remote.transcribe(speak(said, 16_000), language="en")
    finally:
        remote.close()
    assert word_error_rate(said, transcript.text) <= 0.25, transcript.text
    assert transcript.audio_s > 1.0
    assert server.requests[-1]["language"] == "en"
    assert server.requests[-1]["prompt"] == "Opening hours."
    assert server.requests[-1]["model"] == "whisper-1"


async def test_an_unreachable_endpoint_is_an_stt_error() -> None:
    remote = OpenAITranscriber(
        base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="", model="m", timeout_s=2
    )
    try:
        with pytest.raises(STTError, match="transcription endpoint"):
            await remote.transcribe(b"\0\0" * 1600)
    finally:
        remote.close()


def test_the_backend_is_chosen_by_setting() -> None:
    remote = create_stt("openai", model="tiny.en", base_url="http://127.0.0.1:9/v1")
    assert isinstance(remote, OpenAITranscriber)
    assert remote.model_name == "whisper-1"  # the bundled model's name means the endpoint's
    remote.close()
    with pytest.raises(STTError, match="unknown STT backend"):
        create_stt("nope", model="tiny.en")
    assert Settings(stt_backend="openai").stt_backend == "openai"


def test_wav_framing() -> None:
    wav = pcm16k_to_wav(b"\1\0" * 160 + b"\7")  # an odd trailing byte is dropped
    assert wav[:4] == b"RIFF"
    assert wav[8:12] == b"WAVE"
    assert len(wav) == 44 + 320


@pytest.fixture
async def remote_stt_bridge(
    llm_script: ScriptedLLM,
    bridge_settings: Settings,
    piper: PiperTTS,
    silero: SileroVad,
    stt_server: tuple[str, TranscriptionServer],
) -> AsyncIterator[RunningBridge]:
    """The conftest bridge, but transcribing through the endpoint instead of in process."""
    piper.cache = ClauseCache()
    stt_url, _ = stt_server
    remote = create_stt("openai", model="whisper-1", base_url=stt_url, timeout_s=30)
    async with serve_app(llm_script.app()) as llm_url:
        engines = Engines(
            vad=silero,
            stt=remote,
            tts=piper,
            llm=ChatLLM(base_url=f"{llm_url}/v1", api_key="", model="scripted", timeout_s=5),
        )
        app = create_app(bridge_settings, engines=engines)
        async with serve_app(app) as url:
            yield RunningBridge(url, llm_script, bridge_settings, app)
        await engines.llm.close()
    remote.close()


async def test_a_phone_call_through_the_remote_stt(
    remote_stt_bridge: RunningBridge,
    stt_server: tuple[str, TranscriptionServer],
    piper: PiperTTS,
    stt: SpeechToText,
) -> None:
    # Mirrors tests/calls/test_twilio_call.py with the bridge's STT behind the endpoint.
    bridge = remote_stt_bridge
    url = bridge.url.replace("http://", "ws://") + "/twilio/media"
    async with dial_websocket(url) as transport:
        caller = SimulatedCaller(
            twilio_wire({"From": "+15550001111"}), transport, tts=piper, stt=stt
        )
        greeting, answer = await caller.run([Listen(), Say("What are your opening hours?")])
    assert word_error_rate(bridge.settings.greeting, greeting.heard) <= 0.25, greeting.heard
    assert word_error_rate(HOURS, answer.heard) <= 0.25, (answer.heard, bridge.llm.requests)
    assert bridge.llm.requests[-1]["messages"][-1]["content"].lower().startswith("what are your")
    assert stt_server[1].requests, "the bridge transcribed without the endpoint"
