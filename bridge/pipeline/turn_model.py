"""End-of-turn detection with Smart Turn v3.2: has the caller finished, judged from the audio?

Silence alone is a poor end-of-turn rule: a pause after "um" or a trailing "and" is as quiet as
the end of a question. Smart Turn (an audio-only Whisper-encoder classifier, 8.7 MB ONNX,
BSD-2-Clause, shipped in ``bridge/pipeline/models`` with its provenance) hears intonation and
unfinished words and answers with the probability that the turn is complete.

The model is loaded once per process and shared by every call. Each decision runs on the
model's own single thread (:attr:`SmartTurn.executor`), never on the event loop; one thread,
because a decision is small and the other core serves the calls meanwhile.

Preprocessing is the one pipecat uses for this model (``LocalSmartTurnAnalyzerV3``): the last
8 s of 16 kHz audio, zeros padded at the *front* when shorter, zero-mean unit-variance
normalisation of the waveform, then Whisper's 80-bin log-mel (faster-whisper's numpy feature
extractor, which matches transformers' to 1e-7), 800 frames.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from bridge.audio import StreamResampler
from bridge.audio.convert import pcm16_floats
from bridge.pipeline.cpu import model_thread

MODEL_RATE = 16_000
WINDOW_S = 8  # the model sees at most the last 8 s
WINDOW_SAMPLES = MODEL_RATE * WINDOW_S
_NORM_EPS = 1e-7

FloatArray = npt.NDArray[np.float32]


def bundled_model_path() -> Path:
    return Path(__file__).parent / "models" / "smart-turn-v3.2-cpu.onnx"


class TurnModel(Protocol):
    """What the engine asks: the probability (0..1) that the speech in ``pcm`` (16-bit PCM at
    ``sample_rate``, the turn so far with its trailing silence) is a finished turn."""

    async def complete_probability(self, pcm: bytes, sample_rate: int) -> float: ...

    def close(self) -> None: ...


def model_input(audio: FloatArray) -> FloatArray:
    """The window the model sees: the last 8 s, zeros in front of shorter audio."""
    if len(audio) >= WINDOW_SAMPLES:
        return audio[-WINDOW_SAMPLES:]
    return np.pad(audio, (WINDOW_SAMPLES - len(audio), 0))


class SmartTurn:
    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        import onnxruntime
        from faster_whisper.feature_extractor import FeatureExtractor

        from bridge.pipeline.onnx import cpu_session_options

        self._session = onnxruntime.InferenceSession(
            str(path or bundled_model_path()),
            sess_options=cpu_session_options(threads),
            providers=["CPUExecutionProvider"],
        )
        self._features = FeatureExtractor(chunk_length=WINDOW_S)
        self.executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="turn", initializer=model_thread, initargs=("turn",)
        )
        self.last_run_s = 0.0  # how long the latest decision took (for logs and the bench)

    def probability_sync(self, audio: FloatArray) -> float:
        """The model on float samples at 16 kHz (blocking: call it on :attr:`executor`)."""
        started = time.perf_counter()
        window = model_input(audio.astype(np.float32, copy=False))
        window = (window - window.mean()) / np.sqrt(window.var() + _NORM_EPS)
        features = self._features(window, padding=0)[np.newaxis].astype(np.float32)
        (logits,) = self._session.run(None, {"input_features": features})
        self.last_run_s = time.perf_counter() - started
        return float(np.asarray(logits).reshape(-1)[0])  # the graph ends in a sigmoid

    def _probability_of_pcm(self, pcm: bytes, sample_rate: int) -> float:
        # Only the last 8 s matter: resample no more than that (plus the filter's warm-up).
        keep = (WINDOW_S * sample_rate + 64) * 2
        pcm = pcm[-keep:] if len(pcm) > keep else pcm
        if sample_rate != MODEL_RATE:
            pcm = StreamResampler(sample_rate, MODEL_RATE).process(pcm)
        audio = pcm16_floats(pcm)
        return self.probability_sync(audio)

    async def complete_probability(self, pcm: bytes, sample_rate: int) -> float:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._probability_of_pcm, pcm, sample_rate)

    def warm(self) -> None:
        self.probability_sync(np.zeros(MODEL_RATE, dtype=np.float32))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
