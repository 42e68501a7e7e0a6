"""Voice activity detection with Silero VAD (the ONNX model shipped inside faster-whisper).

Three layers, each one concept:

* :class:`SileroVad` – the model, loaded once per process and shared by every stream.
* :class:`SpeechSegmenter` – a pure state machine from per-window speech probabilities to
  speech started / stopped events (threshold, prefix padding, silence duration).
* :class:`VadStream` – per-stream state (model memory, resampler, partial window) gluing the two;
  inference runs on the model's own thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bridge.audio import StreamResampler, pcm16_rms
from bridge.audio.convert import pcm16_floats
from bridge.pipeline.cpu import name_thread
from bridge.pipeline.onnx import cpu_session

MODEL_RATE = 16_000
WINDOW_SAMPLES = 512  # 32 ms at 16 kHz, the only window Silero v6 accepts here
CONTEXT_SAMPLES = 64  # samples of the previous window the model sees with each new one
WINDOW_MS = WINDOW_SAMPLES * 1000 // MODEL_RATE
_STATE_SHAPE = (1, 1, 128)
# Telephone audio stops at 4 kHz and Silero scores it lower than wideband speech: measured on
# 8 kHz G.711 speech, a short "wait." peaked near 0.45 and went unseen at threshold 0.5. Narrowband
# streams therefore use a threshold this much lower than the configured (wideband) one.
NARROWBAND_RATE = 8_000
NARROWBAND_OFFSET = 0.1
# A window quieter than this (RMS, dB below full scale) is not speech: while no speech is under
# way the model is skipped for it. Line noise sits near -65 dBFS and speech near -25; a quiet
# onset is still far above. On a quiet line this skips most of the model runs and their thread
# hand-offs, which cost more than the inference itself.
QUIET_DBFS = -55.0
_QUIET_MEAN_SQUARE = 10 ** (QUIET_DBFS / 10)  # of samples scaled to [-1, 1)
_QUIET_RMS = 32768 * 10 ** (QUIET_DBFS / 20)  # in 16-bit sample units
_SILENCE = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
_SILENCE.flags.writeable = False

FloatArray = npt.NDArray[np.float32]


def bundled_model_path() -> Path:
    import faster_whisper

    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


class SileroVad:
    """The shared model. ``probabilities`` is thread-safe; state travels with the caller."""

    def __init__(self, path: Path | None = None) -> None:
        # One small LSTM step per 32 ms: extra threads only add scheduling cost.
        self._session = cpu_session(path or bundled_model_path(), threads=1)
        # At the event loop's priority, unlike the other models (bridge.pipeline.cpu): it is
        # small, and a barge-in waits for it.
        self.executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="vad", initializer=name_thread, initargs=("vad",)
        )

    def new_state(self) -> VadModelState:
        return VadModelState()

    def probabilities(self, state: VadModelState, audio: FloatArray) -> list[float]:
        """Speech probability of each 512-sample window of 16 kHz ``audio``."""
        probs: list[float] = []
        for start in range(0, len(audio) - WINDOW_SAMPLES + 1, WINDOW_SAMPLES):
            window = audio[start : start + WINDOW_SAMPLES]
            model_input = np.concatenate([state.context, window])[np.newaxis, :]
            out, state.h, state.c = self._session.run(
                None, {"input": model_input, "h": state.h, "c": state.c}
            )
            state.context = window[-CONTEXT_SAMPLES:]
            probs.append(float(out.reshape(-1)[0]))
        return probs

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _zeros(*shape: int) -> FloatArray:
    return np.zeros(shape, dtype=np.float32)


@dataclass
class VadModelState:
    """The model's recurrent memory for one stream."""

    h: FloatArray = field(default_factory=lambda: _zeros(*_STATE_SHAPE))
    c: FloatArray = field(default_factory=lambda: _zeros(*_STATE_SHAPE))
    context: FloatArray = field(default_factory=lambda: _zeros(CONTEXT_SAMPLES))


@dataclass(frozen=True)
class VadParams:
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    min_speech_ms: int = 32  # one 32 ms window: barge-in must be quick

    @property
    def negative_threshold(self) -> float:
        # Hysteresis: once speaking, a dip just under the threshold is not yet silence.
        return max(0.01, self.threshold - 0.15)


@dataclass(frozen=True)
class SpeechStarted:
    """Speech began at ``start_ms`` (stream time); ``audio_start_ms`` includes prefix padding."""

    start_ms: int
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    """Speech ended at ``end_ms``; reported once ``silence_duration_ms`` of silence followed."""

    end_ms: int


SpeechEvent = SpeechStarted | SpeechStopped


class SpeechSegmenter:
    """Turns a sequence of window probabilities into speech start/stop events (sans-I/O)."""

    def __init__(self, params: VadParams, window_ms: int = WINDOW_MS) -> None:
        self.params = params
        self._window_ms = window_ms
        self._now_ms = 0
        self._speaking = False
        self._candidate_start: int | None = None
        self._last_voiced_end = 0

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def idle(self) -> bool:
        """Neither speaking nor weighing a possible start of speech."""
        return not self._speaking and self._candidate_start is None

    @property
    def last_voiced_end_ms(self) -> int:
        """Where the last voiced window ended (meaningful while speaking)."""
        return self._last_voiced_end

    @property
    def silence_ms(self) -> int:
        """How long the current speech has been silent (0 while voiced or not speaking)."""
        return self._now_ms - self._last_voiced_end if self._speaking else 0

    def push(self, probability: float) -> SpeechEvent | None:
        start, self._now_ms = self._now_ms, self._now_ms + self._window_ms
        p = self.params
        if not self._speaking:
            # Onset needs the full threshold; a candidate then lives on above the lower
            # hysteresis threshold, since a short word ("stop") on a phone line hovers there.
            floor = p.threshold if self._candidate_start is None else p.negative_threshold
            if probability < floor:
                self._candidate_start = None
                return None
            if self._candidate_start is None:
                self._candidate_start = start
            self._last_voiced_end = self._now_ms
            # A click or a cough shorter than min_speech_ms does not start a turn.
            if self._now_ms - self._candidate_start < max(p.min_speech_ms, self._window_ms):
                return None
            self._speaking = True
            onset = self._candidate_start
            return SpeechStarted(onset, max(0, onset - p.prefix_padding_ms))
        if probability >= p.negative_threshold:
            self._last_voiced_end = self._now_ms
            return None
        if self._now_ms - self._last_voiced_end >= p.silence_duration_ms:
            self._speaking = False
            self._candidate_start = None
            return SpeechStopped(self._last_voiced_end)
        return None

    def stop(self) -> SpeechStopped | None:
        """End the speech now (the turn was judged over before the silence ran out)."""
        if not self._speaking:
            return None
        self._speaking = False
        self._candidate_start = None
        return SpeechStopped(self._last_voiced_end)


class VadStream:
    """VAD for one audio stream at 8 kHz or 16 kHz (or any rate: it resamples to 16 kHz)."""

    def __init__(self, model: SileroVad, params: VadParams, sample_rate: int) -> None:
        self._model = model
        self._state = model.new_state()
        if sample_rate <= NARROWBAND_RATE:
            params = replace(params, threshold=max(0.05, params.threshold - NARROWBAND_OFFSET))
        self.segmenter = SpeechSegmenter(params)
        self._resampler = (
            StreamResampler(sample_rate, MODEL_RATE) if sample_rate != MODEL_RATE else None
        )
        self._pending = np.zeros(0, dtype=np.float32)
        self._quiet_run = 0  # how many of the latest samples were quiet (all pending, if more)

    @property
    def speaking(self) -> bool:
        return self.segmenter.speaking

    def stop(self) -> SpeechStopped | None:
        """End the current speech now; None when none is under way."""
        return self.segmenter.stop()

    def _windows(self, pcm: bytes) -> FloatArray | None:
        """Whole windows of 16 kHz audio to score; None when the chunk needed no work."""
        samples: FloatArray
        if self.segmenter.idle and pcm16_rms(pcm) < _QUIET_RMS:
            # Too quiet to start speech: not resampled (the costliest step per frame), and
            # while everything pending is quiet too, not even turned into samples.
            count = len(pcm) // 2
            if self._resampler is not None:
                count = self._resampler.skip(count)
            if self._quiet_run >= len(self._pending):
                self._quiet_run += count
                windows, rest = divmod(len(self._pending) + count, WINDOW_SAMPLES)
                self._pending = _SILENCE[:rest]
                if windows:
                    self._state.context = _SILENCE[:CONTEXT_SAMPLES]
                for _ in range(windows):
                    self.segmenter.push(0.0)  # time goes on; silence starts nothing
                return None
            self._quiet_run += count
            samples = np.zeros(count, dtype=np.float32)
        else:
            self._quiet_run = 0
            if self._resampler is not None:
                pcm = self._resampler.process(pcm)
            samples = pcm16_floats(pcm)
        audio = np.concatenate([self._pending, samples])
        usable = len(audio) - len(audio) % WINDOW_SAMPLES
        self._pending = audio[usable:]
        return audio[:usable]

    def _skip_quiet(self, audio: FloatArray) -> list[float] | None:
        """Zero probabilities for windows that cannot start speech, without the model."""
        if not self.segmenter.idle:
            return None  # speech under way: its end needs the model's judgement
        windows = audio.reshape(-1, WINDOW_SAMPLES)
        if float(np.max(np.mean(windows * windows, axis=1))) >= _QUIET_MEAN_SQUARE:
            return None
        self._state.context = audio[-CONTEXT_SAMPLES:]
        return [0.0] * len(windows)

    def _events(self, probs: list[float]) -> list[SpeechEvent]:
        return [event for p in probs if (event := self.segmenter.push(p)) is not None]

    def process_sync(self, pcm: bytes) -> list[SpeechEvent]:
        audio = self._windows(pcm)
        if audio is None or not len(audio):
            return []
        probs = self._skip_quiet(audio)
        if probs is None:
            probs = self._model.probabilities(self._state, audio)
        return self._events(probs)

    async def process(self, pcm: bytes) -> list[SpeechEvent]:
        """Feed 16-bit PCM; returns the speech events it completes. Inference runs off-loop."""
        audio = self._windows(pcm)
        if audio is None or not len(audio):
            return []
        probs = self._skip_quiet(audio)
        if probs is None:
            loop = asyncio.get_running_loop()
            probs = await loop.run_in_executor(
                self._model.executor, self._model.probabilities, self._state, audio
            )
        return self._events(probs)
