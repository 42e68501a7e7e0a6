"""Shared fixtures: real models, loaded once per test session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from bridge.audio import StreamResampler
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.tts import PiperTTS
from bridge.pipeline.vad import SileroVad


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
