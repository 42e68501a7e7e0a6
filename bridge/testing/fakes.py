"""Fake pipeline engines: the conversation engine driven in milliseconds, without models.

Each fake has the interface the session uses and is deterministic: it starts no thread and
never sleeps a real duration (where a real engine works off the loop, a fake yields to it once).

* :class:`FakeVad` – the Silero model replaced by a loudness test (a 32 ms window whose RMS
  reaches ``speech_rms`` is speech), so the real :class:`~bridge.pipeline.vad.VadStream` and
  :class:`~bridge.pipeline.vad.SpeechSegmenter` still decide when speech starts and stops.
* :class:`FakeSTT` – scripted transcripts (a queue of texts, or one made from the audio), with
  an optional :class:`asyncio.Event` gate that holds every transcription until it is set.
* :class:`FakeTTS` – ``ms_per_char`` milliseconds of deterministic PCM per character, clause by
  clause, with the speech cache, ``warm`` and ``urgent`` of the local backends.
* :class:`FakeTurnModel` – scripted end-of-turn probabilities, every question recorded.
* :class:`FakeLLM` – scripted :class:`TextDelta` / :class:`ToolCallDelta` / :class:`Completed`
  streams, with :class:`Hold` points a test releases, recording every request it got.

:func:`speech` and :func:`silence` make caller audio; :func:`until` yields to the event loop
until a condition holds (never sleeping a real duration).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

from bridge.audio import G711Law
from bridge.audio.convert import pcm16_floats
from bridge.pipeline.engines import Engines
from bridge.pipeline.stt import SAMPLE_RATE as STT_RATE
from bridge.pipeline.stt import SpeechToText, Transcript
from bridge.pipeline.text import split_sentences
from bridge.pipeline.tts import ClauseCache
from bridge.pipeline.vad import WINDOW_SAMPLES, SileroVad, VadModelState
from bridge.testing.fake_llm import FakeLLM as FakeLLM
from bridge.testing.fake_llm import Hold as Hold
from bridge.testing.fake_llm import LLMCall as LLMCall
from bridge.testing.fake_llm import Script as Script
from bridge.testing.fake_llm import Step as Step
from bridge.testing.fake_llm import echo as echo
from bridge.testing.fake_llm import text_reply as text_reply
from bridge.testing.fake_llm import tool_call_reply as tool_call_reply

_P = ParamSpec("_P")
_T = TypeVar("_T")

SPEECH_AMPLITUDE = 0.3  # of full scale: the tone :func:`speech` makes (about -13 dBFS RMS)
SPEECH_HZ = 440
SPEECH_RMS = 0.05  # a VAD window at least this loud (RMS, full scale 1) is speech


# --- caller audio ----------------------------------------------------------------------------


def _encode(pcm: bytes, encoding: str) -> bytes:
    return pcm if encoding == "pcm16" else G711Law.from_name(encoding).encode(pcm)


def speech(ms: int, rate: int = 24_000, encoding: str = "pcm16") -> bytes:
    """``ms`` of "speech" (a steady tone :class:`FakeVad` calls speech) in the wire format:
    16-bit PCM at ``rate``, or G.711 (``pcmu``/``pcma``, normally at 8 kHz)."""
    t = np.arange(rate * ms // 1000) / rate
    samples = SPEECH_AMPLITUDE * 32767 * np.sin(2 * np.pi * SPEECH_HZ * t)
    return _encode(samples.round().astype("<i2").tobytes(), encoding)


def silence(ms: int, rate: int = 24_000, encoding: str = "pcm16") -> bytes:
    """``ms`` of digital silence in the wire format (see :func:`speech`)."""
    return _encode(bytes(2 * (rate * ms // 1000)), encoding)


def voiced_ms(pcm: bytes, rate: int = STT_RATE) -> int:
    """How much of 16-bit ``pcm`` is speech, in whole 10 ms frames at least ``SPEECH_RMS`` loud."""
    frame = rate // 100
    samples = pcm16_floats(pcm)
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
    if not len(frames):
        return 0
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return 10 * int(np.count_nonzero(rms >= SPEECH_RMS))


async def until(condition: Callable[[], bool], *, turns: int = 10_000) -> None:
    """Yield to the event loop until ``condition()`` holds; fail after ``turns`` loop turns
    (the fakes finish their work within a few turns: a condition still false is a bug)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"condition still false after {turns} event loop turns")


# --- VAD ---------------------------------------------------------------------------------


class InlineExecutor(ThreadPoolExecutor):
    """Runs each submitted call at once, on the caller's thread (it never starts a thread):
    ``loop.run_in_executor`` with it still returns a future, done by the next loop turn."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        future: Future[_T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


FloatArray = npt.NDArray[np.float32]


class FakeVad(SileroVad):
    """The VAD model: a window is speech (probability 1) when its RMS reaches ``speech_rms``,
    else silence (0). The real stream and segmenter do the rest."""

    def __init__(self, speech_rms: float = SPEECH_RMS) -> None:
        # No super().__init__(): there is no model to load.
        self.executor = InlineExecutor()
        self.speech_rms = speech_rms
        self.windows = 0  # windows scored (quiet ones the stream skips are not asked for)

    def probabilities(self, state: VadModelState, audio: FloatArray) -> list[float]:
        usable = len(audio) // WINDOW_SAMPLES * WINDOW_SAMPLES
        windows = audio[:usable].reshape(-1, WINDOW_SAMPLES)
        self.windows += len(windows)
        rms = np.sqrt(np.mean(windows * windows, axis=1))
        return [1.0 if level >= self.speech_rms else 0.0 for level in rms]

    def close(self) -> None:
        self.executor.shutdown(wait=False)


# --- STT ---------------------------------------------------------------------------------


def describe_speech(pcm16k: bytes) -> str:
    """The default transcript: how much speech the audio holds ("speech of 300 ms"), so a
    longer turn gets a different transcript than its start."""
    return f"speech of {voiced_ms(pcm16k)} ms"


@dataclass(frozen=True)
class STTRequest:
    audio_s: float
    voiced_ms: int
    language: str | None
    prompt: str | None
    early: bool = False


class FakeSTT(SpeechToText):
    """Transcribes to the next of ``transcripts``, then (once they run out) to ``fallback``
    of the audio. While ``gate`` is set to an unset event, every transcription waits for it."""

    def __init__(
        self,
        transcripts: Iterable[str] = (),
        *,
        fallback: Callable[[bytes], str] = describe_speech,
        gate: asyncio.Event | None = None,
        language: str = "en",
    ) -> None:
        # No super().__init__(): there is no model to load.
        self.model_name = "fake"
        self.device, self.compute_type = "cpu", "none"
        self.language = language
        self.prompt = None
        self.beam_size = 1
        self.short_context = False
        self.transcripts: deque[str] = deque(transcripts)
        self.fallback = fallback
        self.gate = gate
        self.requests: list[STTRequest] = []  # every transcription asked for, in order
        self.results: list[str] = []  # every transcript returned, in order

    def _text(self, pcm16k: bytes) -> str:
        return self.transcripts.popleft() if self.transcripts else self.fallback(pcm16k)

    def _transcript(self, pcm16k: bytes, language: str | None) -> Transcript:
        text = self._text(pcm16k)
        self.results.append(text)
        return Transcript(text, language or self.language or "en", len(pcm16k) / 2 / STT_RATE, 0.0)

    def transcribe_sync(
        self,
        audio: npt.NDArray[np.float32],
        *,
        language: str | None = None,
        prompt: str | None = None,
    ) -> Transcript:
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).round().astype("<i2").tobytes()
        return self._transcript(pcm, language)

    def warm(self) -> None:
        pass

    async def transcribe(
        self,
        pcm16k: bytes,
        *,
        language: str | None = None,
        prompt: str | None = None,
        early: bool = False,
    ) -> Transcript:
        self.requests.append(
            STTRequest(len(pcm16k) / 2 / STT_RATE, voiced_ms(pcm16k), language, prompt, early)
        )
        if self.gate is not None:
            await self.gate.wait()
        else:
            await asyncio.sleep(0)  # a model runs off the loop: the answer comes a turn later
        return self._transcript(pcm16k, language)

    def close(self) -> None:
        pass


# --- TTS ---------------------------------------------------------------------------------


class FakeTTS:
    """``ms_per_char`` ms of 16-bit PCM at ``sample_rate`` per character of each clause. Like
    the local backends it splits text into clauses, keeps a speech cache (``warm`` fills it)
    and yields to the loop once per synthesized clause; ``gate`` holds every synthesis."""

    def __init__(
        self,
        *,
        sample_rate: int = 24_000,
        ms_per_char: int = 10,
        name: str = "fake",
        gate: asyncio.Event | None = None,
    ) -> None:
        self.name = name
        self.sample_rate = sample_rate
        self.ms_per_char = ms_per_char
        self.gate = gate
        self.cache = ClauseCache()
        self.requests: list[tuple[str, bool]] = []  # (text, urgent) of each stream() call
        self.warmed: list[str] = []  # texts warm() was asked for
        self.synthesized: list[str] = []  # clauses actually synthesized (cache misses)

    def duration_ms(self, clause: str) -> int:
        return len(clause) * self.ms_per_char

    def pcm(self, clause: str) -> bytes:
        """The clause's audio: a sawtooth, so it is neither silent nor all one value."""
        count = self.sample_rate * self.duration_ms(clause) // 1000
        return ((np.arange(count) % 64 - 32) * 256).astype("<i2").tobytes()

    async def _clause(self, clause: str) -> bytes:
        pcm = self.cache.get(clause)
        if pcm is not None:
            return pcm
        if self.gate is not None:
            await self.gate.wait()
        else:
            await asyncio.sleep(0)  # synthesis runs off the loop
        pcm = self.cache.get(clause)  # another request may have made it meanwhile
        if pcm is None:
            pcm = self.pcm(clause)
            self.synthesized.append(clause)
            self.cache.put(clause, pcm)
        return pcm

    async def stream(self, text: str, *, urgent: bool = False) -> AsyncIterator[bytes]:
        self.requests.append((text, urgent))
        for clause in split_sentences(text):
            pcm = await self._clause(clause)
            if pcm:
                yield pcm

    async def warm(self, text: str) -> None:
        self.warmed.append(text)
        for clause in split_sentences(text):
            await self._clause(clause)

    async def close(self) -> None:
        pass


# --- end of turn -------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnQuestion:
    audio_ms: float  # how much audio the model was given
    voiced_ms: int


class FakeTurnModel:
    """The end-of-turn model: answers each question with the next of ``probabilities``, then
    ``default``; ``gate`` holds every answer until it is set. Records every question."""

    def __init__(
        self,
        probabilities: Iterable[float] = (),
        *,
        default: float = 1.0,
        gate: asyncio.Event | None = None,
    ) -> None:
        self.probabilities: deque[float] = deque(probabilities)
        self.default = default
        self.gate = gate
        self.questions: list[TurnQuestion] = []

    async def complete_probability(self, pcm: bytes, sample_rate: int) -> float:
        self.questions.append(
            TurnQuestion(len(pcm) / 2 / sample_rate * 1000, voiced_ms(pcm, sample_rate))
        )
        if self.gate is not None:
            await self.gate.wait()
        else:
            await asyncio.sleep(0)  # the model runs off the loop: the answer comes a turn later
        return self.probabilities.popleft() if self.probabilities else self.default

    def close(self) -> None:
        pass


# --- LLM ---------------------------------------------------------------------------------


@dataclass
class Fakes:
    """One of each fake engine; :meth:`engines` bundles them as the session expects."""

    vad: FakeVad = field(default_factory=FakeVad)
    stt: FakeSTT = field(default_factory=FakeSTT)
    tts: FakeTTS = field(default_factory=FakeTTS)
    llm: FakeLLM = field(default_factory=FakeLLM)
    # The end-of-turn model (every turn complete); None: silence alone ends semantic_vad turns.
    turn: FakeTurnModel | None = field(default_factory=FakeTurnModel)

    def engines(self) -> Engines:
        return Engines(vad=self.vad, stt=self.stt, tts=self.tts, llm=self.llm, turn=self.turn)


def fake_engines(
    *,
    vad: FakeVad | None = None,
    stt: FakeSTT | None = None,
    tts: FakeTTS | None = None,
    llm: FakeLLM | None = None,
    turn: FakeTurnModel | None = None,
) -> Engines:
    """An :class:`Engines` bundle of fakes (a default one for each not given)."""
    return Fakes(
        vad=vad or FakeVad(),
        stt=stt or FakeSTT(),
        tts=tts or FakeTTS(),
        llm=llm or FakeLLM(),
        turn=turn or FakeTurnModel(),
    ).engines()
