"""Piper synthesis clause by clause, and the OpenAI-compatible speech backend."""

import asyncio
import contextlib
import threading

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from bridge.pipeline.onnx import cpu_session_options
from bridge.pipeline.tts import (
    BUNDLED_VOICE,
    OpenAISpeechTTS,
    PiperTTS,
    TTSError,
    _ClauseSynthesizer,
    create_tts,
    resolve_piper_voice,
)
from bridge.testing.serve import serve_app


async def test_piper_streams_one_chunk_per_clause(piper: PiperTTS) -> None:
    chunks = [c async for c in piper.stream("Good morning. How can I help you today?")]
    assert len(chunks) == 2
    assert piper.sample_rate == 22_050
    for chunk in chunks:
        samples = np.frombuffer(chunk, dtype="<i2")
        assert len(samples) > piper.sample_rate * 0.3  # real speech, not a click
        assert np.abs(samples).max() > 3000


async def test_piper_does_not_block_the_event_loop(piper: PiperTTS) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    audio = b"".join(
        [c async for c in piper.stream("This sentence takes a while to say out loud.")]
    )
    task.cancel()
    spoken_s = len(audio) / 2 / piper.sample_rate
    assert spoken_s > 1.5
    assert ticks >= 5  # the loop kept running while Piper worked


def test_the_voice_keeps_no_memory_pattern_per_clause_shape(piper: PiperTTS) -> None:
    # Every clause has a new input shape; a pattern kept for each grew the process's memory
    # at random times through a soak (see bridge.pipeline.onnx.cpu_session_options).
    assert piper._voice.session.get_session_options().enable_mem_pattern is False
    assert cpu_session_options(1).enable_mem_pattern is True  # fixed shapes (VAD) keep it


def test_unknown_voice_and_backend_are_clear_errors(tmp_path) -> None:
    with pytest.raises(TTSError, match="unknown Piper voice 'nobody'"):
        resolve_piper_voice("nobody")
    lone = tmp_path / "voice.onnx"
    lone.write_bytes(b"")
    with pytest.raises(TTSError, match=r"voice\.onnx\.json not found"):
        resolve_piper_voice(str(lone))
    with pytest.raises(TTSError, match="unknown TTS backend 'espeak'"):
        create_tts("espeak", voice=BUNDLED_VOICE)


def test_coqui_backend_explains_how_to_install_it() -> None:
    pytest.importorskip("numpy")
    try:
        import TTS  # noqa: F401
    except ImportError:
        with pytest.raises(TTSError, match=r"voice-bridge\[coqui\]"):
            create_tts("coqui", voice="/models/coqui")
    else:
        with pytest.raises(TTSError, match="not a Coqui model directory"):
            create_tts("coqui", voice="/nonexistent")


async def test_openai_speech_backend_streams_pcm_from_the_endpoint() -> None:
    requests: list[dict[str, object]] = []
    tone = (np.sin(np.arange(24_000) / 24_000 * 2 * np.pi * 440) * 8000).astype("<i2").tobytes()

    async def speech(request: Request) -> StreamingResponse:
        requests.append(await request.json())

        async def body():  # odd-sized pieces: the client must re-align to whole samples
            for start in range(0, len(tone), 999):
                yield tone[start : start + 999]

        return StreamingResponse(body(), media_type="audio/pcm")

    app = Starlette(routes=[Route("/v1/audio/speech", speech, methods=["POST"])])
    async with serve_app(app) as url:
        tts = OpenAISpeechTTS(
            base_url=f"{url}/v1", api_key="k", model="tts-1", voice="alloy", timeout_s=5
        )
        chunks = [c async for c in tts.stream("Hello there.")]
        await tts.close()
    assert all(len(c) % 2 == 0 for c in chunks)
    assert b"".join(chunks) == tone
    assert requests[0]["voice"] == "alloy"
    assert requests[0]["response_format"] == "pcm"
    assert requests[0]["input"] == "Hello there."


def test_the_clause_cache_keeps_recent_clauses_within_its_budget() -> None:
    from bridge.pipeline.tts import ClauseCache

    cache = ClauseCache(max_bytes=10)
    cache.put("hello", b"12345")
    cache.put("there", b"67890")
    assert cache.get("hello") == b"12345"  # now the most recent
    cache.put("again", b"abcde")  # over budget: the least recent ("there") goes
    assert cache.get("there") is None
    assert cache.get("hello") == b"12345"
    assert cache.get("again") == b"abcde"
    cache.put("huge", b"x" * 11)  # larger than the whole budget: never kept
    assert cache.get("huge") is None


async def test_a_repeated_clause_is_synthesized_once(piper) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    original = piper.synthesize_sync

    def counting(text: str) -> bytes:
        calls.append(text)
        return original(text)

    piper.synthesize_sync = counting
    text = "The clause cache test says this once."
    try:
        first = b"".join([chunk async for chunk in piper.stream(text)])
        again = b"".join([chunk async for chunk in piper.stream(text)])
    finally:
        del piper.synthesize_sync
    assert first == again
    assert len(first) > 0
    assert calls == [text]


class GatedSynth(_ClauseSynthesizer):
    """Records the order clauses are synthesized in; the clause "hold" blocks until released."""

    name, sample_rate = "gated", 16_000

    def __init__(self) -> None:
        super().__init__(workers=1)
        self.order: list[str] = []
        self.holding = threading.Event()
        self.release = threading.Event()

    def synthesize_sync(self, text: str) -> bytes:
        self.order.append(text)
        if text == "hold":
            self.holding.set()
            self.release.wait(10)
        return text.encode()


async def collect(synth: GatedSynth, text: str, *, urgent: bool = False) -> bytes:
    return b"".join([chunk async for chunk in synth.stream(text, urgent=urgent)])


async def test_a_replys_first_clause_goes_ahead_of_queued_clauses() -> None:
    synth = GatedSynth()
    loop = asyncio.get_running_loop()
    busy = asyncio.create_task(collect(synth, "hold"))
    await loop.run_in_executor(None, synth.holding.wait, 10)
    later = [asyncio.create_task(collect(synth, text)) for text in ("later one", "later two")]
    first = asyncio.create_task(collect(synth, "first words", urgent=True))
    await asyncio.sleep(0)  # let them queue (no waiting on time: the worker is held)
    synth.release.set()
    assert await first == b"first words"
    await asyncio.gather(busy, *later)
    assert synth.order == ["hold", "first words", "later one", "later two"]
    await synth.close()


async def test_one_clause_asked_for_twice_at_once_is_synthesized_once() -> None:
    synth = GatedSynth()
    results = await asyncio.gather(collect(synth, "same words"), collect(synth, "same words"))
    assert results == [b"same words", b"same words"]
    assert synth.order == ["same words"]
    await synth.close()


async def test_a_queued_clause_nobody_waits_for_is_skipped() -> None:
    synth = GatedSynth()
    loop = asyncio.get_running_loop()
    busy = asyncio.create_task(collect(synth, "hold"))
    await loop.run_in_executor(None, synth.holding.wait, 10)
    abandoned = asyncio.create_task(collect(synth, "never heard"))
    await asyncio.sleep(0)
    abandoned.cancel()  # the caller barged in before it was synthesized
    with contextlib.suppress(asyncio.CancelledError):
        await abandoned
    synth.release.set()
    await busy
    assert await collect(synth, "next") == b"next"
    assert synth.order == ["hold", "next"]
    await synth.close()
