"""``bridge bench --stt-batch N``: N turns transcribed one by one, then all at once through the
cross-call batcher, on this machine's STT settings; the seconds each way and whether every
transcript came out the same. What batching is worth on a device, without calls around it.

The turns are the bench's questions in Piper's voice (different speeds, so several window
lengths), the kind of audio a phone turn brings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bridge.audio import StreamResampler
from bridge.audio.convert import pcm16_floats
from bridge.bench.run import QUESTIONS
from bridge.config import Settings
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.stt_batch import BatchedSpeechToText


@dataclass
class ThroughputResult:
    turns: int
    device: str
    compute_type: str
    one_by_one_s: float
    batched_s: float
    one_by_one_cpu_s: float  # CPU seconds of this process: stable on a shared machine
    batched_cpu_s: float
    batches: list[int]
    same_text: bool

    def summary(self) -> dict[str, Any]:
        return {
            "turns": self.turns,
            "device": f"{self.device} {self.compute_type}",
            "one_by_one_s": round(self.one_by_one_s, 3),
            "batched_s": round(self.batched_s, 3),
            "speed_up": round(self.one_by_one_s / self.batched_s, 2) if self.batched_s else None,
            "one_by_one_cpu_s": round(self.one_by_one_cpu_s, 3),
            "batched_cpu_s": round(self.batched_cpu_s, 3),
            "batch_sizes": ",".join(str(size) for size in self.batches),
            "same_text": self.same_text,
        }


def _turns(count: int) -> list[npt.NDArray[np.float32]]:
    from bridge.pipeline.tts import PiperTTS

    tts = PiperTTS(noise_scale=0.0, noise_w_scale=0.0)
    audio = []
    for n in range(count):
        tts._config.length_scale = 1.0 + 0.1 * (n // len(QUESTIONS) % 3)  # another window length
        pcm = StreamResampler(tts.sample_rate, 16_000).process(
            tts.synthesize_sync(QUESTIONS[n % len(QUESTIONS)])
        )
        audio.append(pcm16_floats(pcm))
    return audio


def run_stt_throughput(turns: int, settings: Settings) -> ThroughputResult:
    audio = _turns(turns)
    stt = SpeechToText(
        settings.stt_model,
        device=settings.stt_device,
        compute_type=settings.stt_compute_type,
        language=settings.stt_language,
        cpu_threads=settings.stt_cpu_threads,
    )
    batched = BatchedSpeechToText(stt, max_size=settings.stt_batch_size, max_wait_s=0.5)
    try:
        stt.warm()
        started, cpu = time.perf_counter(), time.process_time()
        alone = [stt.transcribe_sync(a).text for a in audio]
        one_by_one_s, one_by_one_cpu_s = time.perf_counter() - started, time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        futures = [batched.submit(a) for a in audio]
        together = [f.result().text for f in futures]
        batched_s, batched_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    finally:
        batched.close()
    return ThroughputResult(
        turns, stt.device, stt.compute_type, one_by_one_s, batched_s, one_by_one_cpu_s,
        batched_cpu_s, batched.batches, together == alone,
    )  # fmt: skip
