"""The engines a process loads once and every call shares."""

from __future__ import annotations

import asyncio
import gc
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bridge.config import Settings
from bridge.pipeline.canned_llm import CannedLLM
from bridge.pipeline.cpu import linux_libc_function, set_model_nice
from bridge.pipeline.llm import ChatLLM
from bridge.pipeline.onnx import DeviceError, resolve_onnx_device
from bridge.pipeline.stt import (
    SpeechToText,
    STTError,
    Transcriber,
    create_stt,
    resolve_device,
)
from bridge.pipeline.stt_batch import BatchedSpeechToText
from bridge.pipeline.tts import TextToSpeech, create_tts
from bridge.pipeline.turn_model import SmartTurn, TurnModel
from bridge.pipeline.vad import SileroVad


@dataclass
class Engines:
    vad: SileroVad
    stt: Transcriber
    tts: TextToSpeech
    llm: ChatLLM
    voices: dict[str, TextToSpeech] = field(default_factory=dict)  # mapped voice names
    turn: TurnModel | None = None  # end-of-turn model (None: turns end on silence alone)
    load_s: float = 0.0

    def devices(self) -> dict[str, Any]:
        """Where each model runs, as /readyz, /v1/models and the start-up log report it."""
        stt: dict[str, Any] = {"device": str(getattr(self.stt, "device", "unknown"))}
        if (compute_type := getattr(self.stt, "compute_type", None)) is not None:
            stt["compute_type"] = str(compute_type)
        stt["batch"] = int(getattr(self.stt, "max_size", 1))  # 1: no cross-call batching
        return {"stt": stt, "tts": {"device": str(getattr(self.tts, "device", "cpu"))}}

    def tts_for(self, voice: str) -> TextToSpeech:
        """The engine for a requested voice name; unmapped names get the default voice."""
        return self.voices.get(voice, self.tts)

    async def close(self) -> None:
        self.vad.close()
        self.stt.close()
        if self.turn is not None:
            self.turn.close()
        for tts in {id(t): t for t in (self.tts, *self.voices.values())}.values():
            await tts.close()
        await self.llm.close()


def batch_stt(setting: str, device: str) -> bool:
    """``auto`` batches on CUDA only: on a CPU, a batch cost as many CPU seconds as its
    transcriptions one by one (measured with ``bridge bench --stt-batch``), and each call's
    text came back only when the whole batch was done."""
    return setting == "on" or (setting == "auto" and device == "cuda")


def check_devices(settings: Settings) -> None:
    """Fail at once, with a message that says what to change, when a device was asked for that
    this machine cannot use (``BRIDGE_STT_DEVICE=cuda`` without a GPU, say), instead of
    serving with a bridge that never becomes ready."""
    try:
        if settings.stt_backend == "local":
            resolve_device(settings.stt_device, settings.stt_compute_type)
        if settings.tts_backend == "piper":
            resolve_onnx_device(settings.tts_device)
    except (STTError, DeviceError) as exc:
        raise DeviceError(str(exc)) from exc


def create_llm(settings: Settings) -> ChatLLM:
    if settings.llm_backend == "canned":
        return CannedLLM(max_tokens=settings.llm_max_tokens)
    return ChatLLM(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        model=settings.llm_model,
        timeout_s=settings.llm_timeout_s,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
    )


def load_engines(settings: Settings) -> Engines:
    """Load every model (blocking: call it from a worker thread) and warm them up."""
    started = time.perf_counter()
    check_devices(settings)
    stt = create_stt(
        settings.stt_backend,
        model=settings.stt_model,
        device=settings.stt_device,
        compute_type=settings.stt_compute_type,
        language=settings.stt_language,
        prompt=settings.stt_prompt,
        beam_size=settings.stt_beam_size,
        cpu_threads=settings.stt_cpu_threads,
        workers=settings.stt_workers,
        short_context=settings.stt_short_context,
        base_url=settings.stt_base_url or settings.llm_base_url,
        api_key=settings.stt_api_key or settings.llm_api_key,
        timeout_s=settings.llm_timeout_s,
    )
    if isinstance(stt, SpeechToText) and batch_stt(settings.stt_batch, stt.device):
        stt = BatchedSpeechToText(
            stt, max_size=settings.stt_batch_size, max_wait_s=settings.stt_batch_wait_ms / 1000
        )
    by_target: dict[str, TextToSpeech] = {}

    def voice(target: str) -> TextToSpeech:
        # Each distinct voice is loaded once, however many names map to it.
        if target not in by_target:
            by_target[target] = create_tts(
                settings.tts_backend,
                voice=target,
                model=settings.tts_model,
                speed=settings.tts_speed,
                workers=settings.tts_workers,
                cpu_threads=settings.tts_cpu_threads,
                device=settings.tts_device,
                base_url=settings.tts_base_url or settings.llm_base_url,
                api_key=settings.tts_api_key or settings.llm_api_key,
                timeout_s=settings.llm_timeout_s,
            )
        return by_target[target]

    tts = voice(settings.tts_voice)
    voices = {name: voice(target) for name, target in settings.voice_map.items()}
    engines = Engines(
        vad=SileroVad(),
        stt=stt,
        tts=tts,
        llm=create_llm(settings),
        voices=voices,
        turn=SmartTurn() if settings.turn_model == "smart_turn" else None,
    )
    warm_up(engines)
    give_back_freed_memory()
    engines.load_s = time.perf_counter() - started
    return engines


def give_back_freed_memory() -> None:
    """Return what loading freed to the OS. Loading builds and drops large temporaries (the
    convolution rewrite's copies of each graph), which glibc otherwise keeps in its arenas for
    good: about 65 MB of resident memory with the bundled models. A no-op without glibc."""
    malloc_trim = linux_libc_function("malloc_trim")
    if malloc_trim is not None:
        malloc_trim(0)


WARM_UP_CLAUSE = (
    "We are open from nine in the morning until half past seven in the evening, every day of "
    "the week."
)


def warm_up(engines: Engines) -> None:
    """Run each local model once so the first caller does not pay for lazy initialisation."""
    import numpy as np

    engines.stt.warm()
    engines.vad.probabilities(engines.vad.new_state(), np.zeros(512, dtype=np.float32))
    if isinstance(engines.turn, SmartTurn):
        engines.turn.warm()
    synthesize = getattr(engines.tts, "synthesize_sync", None)
    if synthesize is not None:
        # As long a clause as the splitter lets through: the voice's onnxruntime arena grows
        # here, once, to what the longest clause needs (about 75 MB resident with the bundled
        # voice), not at some random minute of a call. Without it the soak saw a 20 MB step
        # (a 64 MiB extension) minutes after the warm-up; with it, none over 400 clauses.
        synthesize(WARM_UP_CLAUSE)


async def load_engines_async(settings: Settings) -> Engines:
    """Load on a thread of its own, at the models' priority (:mod:`bridge.pipeline.cpu`), so
    what the libraries start while loading runs at it too."""

    def load() -> Engines:
        set_model_nice(settings.inference_nice)
        return load_engines(settings)

    loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load")
    try:
        engines = await asyncio.get_running_loop().run_in_executor(loader, load)
    finally:
        loader.shutdown(wait=False)  # its only job is done (or abandoned)
    freeze_long_lived_objects()
    return engines


def freeze_long_lived_objects() -> None:
    """Take what is alive now (models, modules, the app: what lives as long as the process)
    out of the garbage collector's sight. A full collection walked all of it, about 85 ms on
    the event loop with the bundled models, during which every call's audio stalls; it now
    walks only what calls create. Objects frozen are still freed when nothing refers to them."""
    gc.collect()
    gc.freeze()
