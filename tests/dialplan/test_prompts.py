"""Recorded prompts are converted off the event loop, once per file version and wire format."""

from __future__ import annotations

import asyncio
import os
import wave
from pathlib import Path

import numpy as np
import pytest

from bridge.audio import WireEncoder
from bridge.audio.format import AudioFormat
from bridge.dialplan import prompts
from bridge.dialplan.prompts import PromptError, prompt_audio
from bridge.pipeline.tts import ClauseCache

PCMU_8K = AudioFormat("pcmu", 8000)


def write_wav(path: Path, seconds: float, freq: float = 440.0, rate: int = 16_000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    pcm = (8000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return pcm


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    convert = prompts._convert

    def counting(path: str, media: AudioFormat) -> bytes:
        seen.append(path)
        return convert(path, media)

    monkeypatch.setattr(prompts, "_convert", counting)
    monkeypatch.setattr(prompts, "_converted", ClauseCache())
    return seen


async def test_many_calls_at_once_share_one_conversion(
    tmp_path: Path, conversions: list[str]
) -> None:
    path = tmp_path / "hold.wav"
    pcm = write_wav(path, 5.0)
    results = await asyncio.gather(*(prompt_audio(str(path), PCMU_8K) for _ in range(50)))
    expected = WireEncoder("pcmu", 8000, 16_000).encode(pcm)
    assert all(audio == expected for audio in results)
    assert conversions == [str(path)]
    # Another format is another conversion; the same one again is free.
    assert len(await prompt_audio(str(path), AudioFormat("pcm16", 16_000))) == len(pcm)
    await prompt_audio(str(path), PCMU_8K)
    assert len(conversions) == 2


async def test_an_edited_file_is_converted_again(tmp_path: Path, conversions: list[str]) -> None:
    path = tmp_path / "menu.wav"
    write_wav(path, 1.0)
    first = await prompt_audio(str(path), PCMU_8K)
    write_wav(path, 2.0, freq=660.0)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = await prompt_audio(str(path), PCMU_8K)
    assert len(second) == 2 * len(first)
    assert len(conversions) == 2


async def test_a_bad_file_is_an_error_and_is_tried_again_once_fixed(
    tmp_path: Path, conversions: list[str]
) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF....not a wave file")
    with pytest.raises(PromptError):
        await prompt_audio(str(path), PCMU_8K)
    with pytest.raises(PromptError):
        await prompt_audio(str(tmp_path / "missing.wav"), PCMU_8K)
    write_wav(path, 0.5)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert len(await prompt_audio(str(path), PCMU_8K)) == 4000
