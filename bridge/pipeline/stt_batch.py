"""Cross-call STT batching: transcriptions from different calls that are ready at the same moment
go to faster-whisper as one batch (``BRIDGE_STT_BATCH``).

One worker thread per model takes batches from a :class:`~bridge.pipeline.batch_queue.BatchQueue`
(which jobs go together and when: final transcriptions before early ones, a few milliseconds'
wait at most) and runs them through CTranslate2's ``generate`` on a batch of features, the same
trimmed-window decode that :mod:`bridge.pipeline.short_audio` runs for one. Inputs share a
batch only when their window and prompt length match, so each call gets the very text it would
get alone (faster-whisper's ``BatchedInferencePipeline`` was not used: it pads every input to
the 30 s window, about three times the trimmed window's cost on a CPU, and cuts audio with its
own VAD; and a different window can give different words). Audio the short path cannot take
(long turns, language detection), and any transcript it gives up on, goes through the full path
on the same worker, one at a time.

A failure belongs to one input: when a batch fails, each input is decoded alone, and only the
one that fails again reports an error to its call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bridge.audio.convert import pcm16_floats
from bridge.logging import get_logger
from bridge.pipeline.batch_queue import BatchQueue
from bridge.pipeline.cpu import name_thread
from bridge.pipeline.short_audio import ShortInput, decode_short, prepare_short
from bridge.pipeline.stt import SAMPLE_RATE, SpeechToText, Transcript

log = get_logger("bridge.stt_batch")

# An early transcription waits behind final ones that arrive up to this long after it. A turn
# ends 500 ms of silence after speech by default and early ones start at 120 ms: by the time
# this has passed, an early job is usually its turn's final transcription.
EARLY_DELAY_S = 0.25


@dataclass
class _Job:
    audio: npt.NDArray[np.float32]
    language: str | None
    prompt: str | None
    submitted: float
    future: Future[Transcript]
    short: ShortInput | None = None


class BatchedSpeechToText:
    """A :class:`~bridge.pipeline.stt.SpeechToText` whose transcriptions are batched across
    calls. ``max_size`` inputs at most per batch; a batch waits ``max_wait_s`` at most for
    company when the worker is idle."""

    def __init__(
        self,
        stt: SpeechToText,
        *,
        max_size: int = 8,
        max_wait_s: float = 0.005,
        early_delay_s: float = EARLY_DELAY_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.stt = stt
        self.model_name = stt.model_name
        self.device, self.compute_type = stt.device, stt.compute_type
        self.max_size = max_size
        self._clock = clock
        self._queue: BatchQueue[_Job] = BatchQueue(
            max_size=max_size, max_wait=max_wait_s, early_delay=early_delay_s
        )
        self._ready = threading.Condition()
        self._closed = False
        self.batches: list[int] = []  # sizes of the last batches run, for tests and the bench
        self._worker = threading.Thread(target=self._run, name="stt-batch", daemon=True)
        self._worker.start()

    def warm(self) -> None:
        self.stt.warm()

    def _group(self, job: _Job) -> Hashable:
        if job.short is None:
            return id(job)  # the full path: alone
        return job.short.shape

    def submit(
        self,
        audio: npt.NDArray[np.float32],
        *,
        language: str | None = None,
        prompt: str | None = None,
        early: bool = False,
    ) -> Future[Transcript]:
        """Queue ``audio`` (16 kHz mono float); thread-safe. The future is cancellable."""
        stt = self.stt
        language = language or stt.language
        prompt = prompt or stt.prompt
        job = _Job(audio, language, prompt, self._clock(), Future())
        if stt.short_context:
            try:  # features are computed here, on the caller's thread, in parallel
                job.short = prepare_short(stt.model, audio, language, prompt)
            except Exception as exc:  # bad audio fails this call alone
                job.future.set_exception(exc)
                return job.future
        with self._ready:
            if self._closed:
                job.future.cancel()
                return job.future
            self._queue.add(job, group=self._group(job), now=self._clock(), early=early)
            self._ready.notify()
        return job.future

    async def transcribe(
        self,
        pcm16k: bytes,
        *,
        language: str | None = None,
        prompt: str | None = None,
        early: bool = False,
    ) -> Transcript:
        audio = pcm16_floats(pcm16k)
        loop = asyncio.get_running_loop()
        # Features off the event loop too: they cost a few milliseconds per second of audio.
        submitting = loop.run_in_executor(
            None, lambda: self.submit(audio, language=language, prompt=prompt, early=early)
        )
        try:
            future = await asyncio.shield(submitting)
        except asyncio.CancelledError:  # cancelled while queueing: drop the job once queued
            submitting.add_done_callback(_cancel_queued)
            raise
        return await asyncio.wrap_future(future)  # cancelling this cancels the queued job

    def _next_batch(self) -> list[_Job] | None:
        with self._ready:
            while not self._closed:
                self._queue.discard(lambda job: job.future.cancelled())
                now = self._clock()
                taken = self._queue.take(now)
                batch = [job for job in taken if job.future.set_running_or_notify_cancel()]
                if batch:
                    return batch
                deadline = self._queue.next_deadline()
                self._ready.wait(None if deadline is None else max(0.0, deadline - now))
        return None

    def _run(self) -> None:
        name_thread("stt")
        while (batch := self._next_batch()) is not None:
            self.batches = [*self.batches[-63:], len(batch)]
            started = self._clock()
            try:
                self._transcribe_batch(batch, started)
            except Exception as exc:  # a bug here must not stop the worker for every call
                log.exception("batched transcription failed")
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)

    def _transcribe_batch(self, batch: list[_Job], started: float) -> None:
        shorts = [job.short for job in batch if job.short is not None]
        texts: list[str | None] = [None] * len(batch)
        if len(shorts) == len(batch):
            texts = self._decode(shorts)
        for job, text in zip(batch, texts, strict=True):
            try:
                if isinstance(text, BaseException):
                    raise text
                result = self._finish(job, text, started)
            except Exception as exc:  # this input's failure is its call's alone
                log.warning("transcription failed", error=str(exc))
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)

    def _decode(self, shorts: list[ShortInput]) -> list[Any]:
        """Texts (None: the full path decides) or, per input, the exception it raised."""
        try:
            return list(decode_short(self.stt.model, shorts))
        except Exception as exc:
            if len(shorts) == 1:
                return [exc]
            log.warning("batch failed; decoding its inputs one by one", error=str(exc))
        results: list[Any] = []
        for short in shorts:
            try:
                results.append(decode_short(self.stt.model, [short])[0])
            except Exception as exc:
                results.append(exc)
        return results

    def _finish(self, job: _Job, text: str | None, started: float) -> Transcript:
        queued_s = started - job.submitted
        if text is None:  # the full path, as SpeechToText does it
            result = self.stt.transcribe_full(job.audio, language=job.language, prompt=job.prompt)
            return dataclasses.replace(result, elapsed_s=self._clock() - started, queued_s=queued_s)
        return Transcript(
            text=text,
            language=job.language or "en",
            audio_s=len(job.audio) / SAMPLE_RATE,
            elapsed_s=self._clock() - started,
            queued_s=queued_s,
        )

    def close(self) -> None:
        """Stop the worker and close the model."""
        self.stop()
        self.stt.close()

    def stop(self) -> None:
        """Stop the worker; queued jobs are cancelled (the batch running finishes)."""
        with self._ready:
            self._closed = True
            while len(self._queue):
                for job in self._queue.take(float("inf")):
                    job.future.cancel()
            self._ready.notify_all()
        if self._worker is not threading.current_thread():
            self._worker.join(timeout=30)  # a batch under way finishes first


def _cancel_queued(submitting: asyncio.Future[Future[Transcript]]) -> None:
    if not submitting.cancelled() and submitting.exception() is None:
        submitting.result().cancel()
