"""Cross-call STT batching: the same text per call as unbatched, finals first, failures kept to
their own call. The ordering and failure tests use a stand-in model (no inference); the text
test runs the real tiny.en on Piper speech."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from bridge.pipeline import stt_batch
from bridge.pipeline.stt import SpeechToText, Transcript
from bridge.pipeline.stt_batch import BatchedSpeechToText

# --- a stand-in model: each "audio" is one float that names it --------------------------------


@dataclass(frozen=True)
class StubInput:
    name: str
    shape: tuple[int, int] = (1200, 4)


@dataclass
class StubSTT:
    """What BatchedSpeechToText needs of a SpeechToText, with no model behind it."""

    model_name: str = "stub"
    device: str = "cpu"
    compute_type: str = "int8"
    language: str | None = "en"
    prompt: str | None = None
    short_context: bool = True
    model: Any = None
    closed: bool = False

    def transcribe_full(self, audio: Any, **_: Any) -> Transcript:
        return Transcript(f"full {audio[0]:g}", "en", 1.0, 0.0)

    def warm(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


@dataclass
class StubDecoder:
    """Records each batch; the first batch waits for ``release``; ``poison`` fails a batch."""

    release: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    batches: list[list[str]] = field(default_factory=list)
    poison: str = ""

    def prepare(self, model: Any, audio: Any, language: Any, prompt: Any) -> StubInput:
        name = f"{audio[0]:g}"
        return StubInput(name, (1200, 4) if prompt is None else (1200, len(prompt)))

    def decode(self, model: Any, inputs: Sequence[StubInput]) -> list[str | None]:
        self.batches.append([item.name for item in inputs])
        if len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(10)
        if any(item.name == self.poison for item in inputs):
            raise RuntimeError(f"cannot decode {self.poison}")
        return [None if item.name == "9" else f"text {item.name}" for item in inputs]


@pytest.fixture
def decoder(monkeypatch: pytest.MonkeyPatch) -> StubDecoder:
    stub = StubDecoder()
    monkeypatch.setattr(stt_batch, "prepare_short", stub.prepare)
    monkeypatch.setattr(stt_batch, "decode_short", stub.decode)
    return stub


@pytest.fixture
def make_batched() -> Iterator[Callable[..., BatchedSpeechToText]]:
    made: list[BatchedSpeechToText] = []

    def make(**options: Any) -> BatchedSpeechToText:
        batched = BatchedSpeechToText(StubSTT(), **options)  # type: ignore[arg-type]
        made.append(batched)
        return batched

    yield make
    for batched in made:
        batched.close()


def audio(n: float) -> npt.NDArray[np.float32]:
    return np.full(160, n, dtype=np.float32)


def test_a_final_transcription_goes_before_early_ones_queued_first(
    decoder: StubDecoder, make_batched: Callable[..., BatchedSpeechToText]
) -> None:
    batched = make_batched(max_size=1, max_wait_s=0.0)
    busy = batched.submit(audio(0))  # holds the worker while the others queue
    assert decoder.started.wait(10)
    earlies = [batched.submit(audio(n), early=True) for n in (1, 2, 3)]
    final = batched.submit(audio(4))
    decoder.release.set()
    for future in (busy, final, *earlies):
        future.result(timeout=10)
    assert decoder.batches == [["0"], ["4"], ["1"], ["2"], ["3"]]
    assert final.result().text == "text 4"


def test_ready_transcriptions_share_one_batch_when_their_shapes_match(
    decoder: StubDecoder, make_batched: Callable[..., BatchedSpeechToText]
) -> None:
    batched = make_batched(max_size=8, max_wait_s=0.0)
    busy = batched.submit(audio(0))
    assert decoder.started.wait(10)
    same = [batched.submit(audio(n)) for n in (1, 2, 3)]
    other = batched.submit(audio(5), prompt="a prompt")  # another prompt length: its own batch
    decoder.release.set()
    texts = [f.result(timeout=10).text for f in (busy, *same, other)]
    assert texts == ["text 0", "text 1", "text 2", "text 3", "text 5"]
    assert decoder.batches == [["0"], ["1", "2", "3"], ["5"]]
    assert all(f.result().queued_s >= 0 for f in same)


def test_a_batch_that_fails_for_one_input_fails_only_that_transcription(
    decoder: StubDecoder, make_batched: Callable[..., BatchedSpeechToText]
) -> None:
    decoder.poison = "2"
    batched = make_batched(max_size=8, max_wait_s=0.0)
    busy = batched.submit(audio(0))
    assert decoder.started.wait(10)
    futures = [batched.submit(audio(n)) for n in (1, 2, 3)]
    decoder.release.set()
    busy.result(timeout=10)
    assert futures[0].result(timeout=10).text == "text 1"
    with pytest.raises(RuntimeError, match="cannot decode 2"):
        futures[1].result(timeout=10)
    assert futures[2].result(timeout=10).text == "text 3"
    # The batch, then each of its inputs alone.
    assert decoder.batches[1:] == [["1", "2", "3"], ["1"], ["2"], ["3"]]


def test_a_transcript_the_short_path_gives_up_on_goes_the_full_path(
    decoder: StubDecoder, make_batched: Callable[..., BatchedSpeechToText]
) -> None:
    decoder.release.set()
    batched = make_batched(max_wait_s=0.0)
    assert batched.submit(audio(9)).result(timeout=10).text == "full 9"


async def test_a_cancelled_transcription_is_dropped_from_the_queue(
    decoder: StubDecoder, make_batched: Callable[..., BatchedSpeechToText]
) -> None:
    batched = make_batched(max_size=1, max_wait_s=0.0)
    busy = batched.submit(audio(0))
    assert await asyncio.to_thread(decoder.started.wait, 10)
    waiting = asyncio.create_task(batched.transcribe(np.full(160, 7, "<i2").tobytes(), early=True))
    final = asyncio.create_task(batched.transcribe(np.full(160, 8, "<i2").tobytes()))
    for _ in range(1000):  # both queued (features are computed on a worker thread first)
        if len(batched._queue) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(batched._queue) == 2
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)  # its queued job is cancelled with it
    decoder.release.set()
    assert (await final).text == f"text {8 / 32768:g}"  # PCM 8 as a float
    await asyncio.wrap_future(busy)
    assert decoder.batches == [["0"], [f"{8 / 32768:g}"]]  # never the cancelled one


def test_closing_cancels_what_is_queued_and_closes_the_model(
    decoder: StubDecoder, make_batched: Callable[..., BatchedSpeechToText]
) -> None:
    batched = make_batched(max_size=1, max_wait_s=0.0)
    busy = batched.submit(audio(0))
    assert decoder.started.wait(10)
    queued = batched.submit(audio(1))
    threading.Timer(0.05, decoder.release.set).start()
    batched.close()
    assert queued.cancelled()
    assert busy.result(timeout=1).text == "text 0"
    assert batched.stt.closed  # type: ignore[attr-defined]
    assert batched.submit(audio(2)).cancelled()


# --- the real model ------------------------------------------------------------------------

CALLERS = [
    "What are your opening hours?",
    "What's the weather like in Paris today?",
    "I would like to speak to an operator please.",
    "Can you tell me a long story about dragons?",
    "My account number is four five six seven.",
    "Goodbye.",
]


@pytest.mark.slow
def test_batched_transcripts_are_the_same_as_unbatched_per_call(
    stt: SpeechToText, speak: Callable[[str, int], bytes]
) -> None:
    audios = [np.frombuffer(speak(t, 16_000), "<i2").astype(np.float32) / 32768 for t in CALLERS]
    alone = [stt.transcribe_sync(a).text for a in audios]
    batched = BatchedSpeechToText(stt, max_size=8, max_wait_s=0.5)  # all ready together
    try:
        futures = [batched.submit(a, early=n % 2 == 1) for n, a in enumerate(audios)]
        together = [f.result(timeout=60).text for f in futures]
    finally:
        batched.stop()  # the session's model stays open for other tests
    assert together == alone
    assert max(batched.batches) >= 2  # some did share a batch
    assert sum(batched.batches) == len(CALLERS)
