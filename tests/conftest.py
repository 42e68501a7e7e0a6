"""Shared fixtures: real models, loaded once per test session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette

from bridge.app import create_app
from bridge.audio import StreamResampler
from bridge.config import Settings
from bridge.dialplan.calls import call_flow
from bridge.pipeline.engines import Engines
from bridge.pipeline.llm import ChatLLM
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.tts import ClauseCache, PiperTTS
from bridge.pipeline.turn_model import SmartTurn
from bridge.pipeline.vad import SileroVad
from bridge.testing.llm_server import Reply, Rule, ScriptedLLM, ScriptedToolCall
from bridge.testing.serve import serve_app


@pytest.fixture(scope="session")
def piper() -> Iterator[PiperTTS]:
    # Noise off: the same text gives the same audio in every run.
    tts = PiperTTS(noise_scale=0.0, noise_w_scale=0.0)
    yield tts
    asyncio.run(tts.close())


@pytest.fixture(scope="session")
def stt() -> Iterator[SpeechToText]:
    engine = SpeechToText(workers=1)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def silero() -> Iterator[SileroVad]:
    model = SileroVad()
    yield model
    model.close()


@pytest.fixture(scope="session")
def smart_turn() -> Iterator[SmartTurn]:
    model = SmartTurn()
    yield model
    model.close()


def resample(pcm: bytes, src: int, dst: int) -> bytes:
    return StreamResampler(src, dst).process(pcm) if src != dst else pcm


@pytest.fixture(scope="session")
def speak(piper: PiperTTS) -> Callable[[str, int], bytes]:
    """``speak(text, rate)`` -> 16-bit PCM of Piper saying ``text`` at ``rate``."""
    cache: dict[tuple[str, int], bytes] = {}

    def _speak(text: str, rate: int = 16_000) -> bytes:
        key = (text, rate)
        if key not in cache:
            cache[key] = resample(piper.synthesize_sync(text), piper.sample_rate, rate)
        return cache[key]

    return _speak


@dataclass
class RunningBridge:
    url: str  # http://127.0.0.1:PORT
    llm: ScriptedLLM
    settings: Settings
    app: Starlette

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/v1"

    def configure(self, **changes: Any) -> None:
        """Change settings on the running bridge. Settings are frozen: a copy with the changes
        replaces them where calls read them (the runtime, and the call flow built from them)."""
        runtime = self.app.state.runtime
        self.settings = self.settings.model_copy(update=changes)
        runtime.settings = self.settings
        runtime.call_flow = call_flow(runtime.router, self.settings)


# Twelve different sentences: the speech cache would make a repeated one free to synthesize,
# and the tests that cancel a long reply need one that takes a while to generate.
ORDINALS = "one two three four five six seven eight nine ten eleven twelve".split()
LONG_STORY = " ".join(f"This is part {n} of a long answer that goes on and on." for n in ORDINALS)

DEFAULT_SCRIPT = [
    Rule(r"hours|open", Reply("We are open from nine in the morning until five in the evening.")),
    Rule("weather", Reply(tool_calls=(ScriptedToolCall("get_weather", {"city": "Paris"}),))),
    Rule("sunny", Reply("It is sunny in Paris today."), role="tool"),
    Rule("long story", Reply(LONG_STORY)),
    Rule(
        r"goodbye|bye",
        Reply(
            "Goodbye, and thank you for calling.", tool_calls=(ScriptedToolCall("end_call", {}),)
        ),
    ),
    Rule(
        r"operator|human",
        Reply(
            "Let me put you through.",
            tool_calls=(ScriptedToolCall("transfer_call", {"target": "+15550100"}),),
        ),
    ),
]


@pytest.fixture
def llm_script() -> ScriptedLLM:
    return ScriptedLLM(rules=DEFAULT_SCRIPT, default=Reply("Sorry, I did not catch that."))


@pytest.fixture
def bridge_settings() -> Settings:
    return Settings(api_keys=[], vad_silence_ms=500, default_dialplan="agent")


@pytest.fixture
async def bridge(
    llm_script: ScriptedLLM,
    bridge_settings: Settings,
    piper: PiperTTS,
    stt: SpeechToText,
    silero: SileroVad,
    smart_turn: SmartTurn,
) -> AsyncIterator[RunningBridge]:
    """A bridge on a loopback port with the real models and a scripted LLM behind it."""
    # Each bridge starts with an empty speech cache, as a fresh process would: a reply another
    # test already synthesized would otherwise be generated at once.
    piper.cache = ClauseCache()
    async with serve_app(llm_script.app()) as llm_url:
        engines = Engines(
            vad=silero,
            stt=stt,
            tts=piper,
            llm=ChatLLM(base_url=f"{llm_url}/v1", api_key="", model="scripted", timeout_s=5),
            turn=smart_turn,
        )
        app = create_app(bridge_settings, engines=engines)
        async with serve_app(app) as url:
            yield RunningBridge(url, llm_script, bridge_settings, app)
        await engines.llm.close()
