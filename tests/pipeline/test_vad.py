"""Silero VAD on real speech: boundaries within ±100 ms, nothing in silence or low noise."""

import numpy as np
import pytest

from bridge.audio.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from bridge.pipeline.vad import (
    SileroVad,
    SpeechSegmenter,
    SpeechStarted,
    SpeechStopped,
    VadParams,
    VadStream,
)
from bridge.testing.speech import noise_pcm, silence_pcm

SENTENCE = "Hello, I would like to check the balance of my savings account."
LEAD_MS = 1000
TAIL_MS = 1500


def true_bounds_ms(pcm: bytes, rate: int) -> tuple[float, float]:
    """First and last sample above -40 dBFS: where the speech really is."""
    samples = np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.float64))
    loud = np.flatnonzero(samples > 32768 * 0.01)
    return loud[0] * 1000 / rate, (loud[-1] + 1) * 1000 / rate


@pytest.mark.slow
@pytest.mark.parametrize("rate", [8000, 16_000])
async def test_speech_start_and_end_are_found_within_100_ms(
    rate: int, speak, silero: SileroVad
) -> None:
    speech = speak(SENTENCE, rate)
    start, end = true_bounds_ms(speech, rate)
    audio = silence_pcm(LEAD_MS, rate) + speech + silence_pcm(TAIL_MS, rate)
    stream = VadStream(silero, VadParams(silence_duration_ms=500), rate)
    frame = rate * 2 // 50  # 20 ms, as a carrier sends it
    events = []
    for offset in range(0, len(audio), frame):
        events += await stream.process(audio[offset : offset + frame])
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    started, stopped = events
    assert isinstance(started, SpeechStarted)
    assert isinstance(stopped, SpeechStopped)
    assert abs(started.start_ms - (LEAD_MS + start)) <= 100
    assert abs(stopped.end_ms - (LEAD_MS + end)) <= 100
    assert started.audio_start_ms == started.start_ms - 300


@pytest.mark.parametrize("rate", [8000, 16_000])
@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_no_speech_is_found_in_silence_or_low_level_noise(
    rate: int, kind: str, silero: SileroVad
) -> None:
    # -50 dBFS white noise: a quiet line with some hiss.
    audio = silence_pcm(5000, rate) if kind == "silence" else noise_pcm(5000, rate, rms=100.0)
    stream = VadStream(silero, VadParams(), rate)
    assert stream.process_sync(audio) == []
    assert not stream.speaking


@pytest.mark.slow
@pytest.mark.parametrize("word", ["Wait.", "Stop, please wait."])
def test_a_short_word_on_a_phone_line_is_heard_at_any_alignment(
    word: str, speak, silero: SileroVad
) -> None:
    """G.711 speech scores lower than wideband speech: a lone "wait." must still start a turn,
    within 300 ms of its first loud sample, wherever it falls on the 32 ms window grid."""
    rate = 8000
    earlier = speak("Please tell me a long story.", rate)
    speech = ulaw_to_pcm16(pcm16_to_ulaw(speak(word, rate)))
    onset_ms, _ = true_bounds_ms(speech, rate)
    late = []
    for shift in range(0, 2 * rate, 331):  # 49 positions across two seconds
        lead = silence_pcm(1000, rate) + earlier + silence_pcm(2000, rate) + bytes(2 * shift)
        stream = VadStream(silero, VadParams(), rate)
        stream.process_sync(lead)
        started = [
            offset / 16
            for offset in range(0, len(speech), 320)
            if any(
                isinstance(e, SpeechStarted)
                for e in stream.process_sync(speech[offset : offset + 320])
            )
        ]
        if not started or started[0] + 20 - onset_ms > 300:
            late.append((shift, started[:1]))
    assert late == []


class CountingVad(SileroVad):
    """The real model, counting the windows it is asked to score."""

    def __init__(self) -> None:
        super().__init__()
        self.windows = 0

    def probabilities(self, state, audio):  # type: ignore[no-untyped-def]
        self.windows += len(audio) // 512
        return super().probabilities(state, audio)


@pytest.fixture(scope="module")
def counting() -> CountingVad:
    return CountingVad()


@pytest.mark.parametrize("rate", [8000, 16_000])
async def test_a_quiet_line_does_not_run_the_model(rate: int, counting: CountingVad) -> None:
    # Digital silence and -65 dBFS hiss (a quiet phone line): far below any speech.
    audio = silence_pcm(2000, rate) + noise_pcm(2000, rate, rms=18.0)
    stream = VadStream(counting, VadParams(), rate)
    before = counting.windows
    frame = rate * 2 // 50
    for offset in range(0, len(audio), frame):
        assert await stream.process(audio[offset : offset + frame]) == []
    assert counting.windows == before


async def test_speech_after_a_quiet_line_is_scored_to_its_end(speak, counting: CountingVad) -> None:
    """Only idle windows are skipped: once speech starts, the silence after it goes to the
    model (its end is the model's call), and a louder line is scored as before."""
    rate = 8000
    audio = silence_pcm(1000, rate) + speak("Hello there.", rate) + silence_pcm(1000, rate)
    stream = VadStream(counting, VadParams(silence_duration_ms=500), rate)
    before = counting.windows
    events = []
    for offset in range(0, len(audio), 320):
        events += await stream.process(audio[offset : offset + 320])
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    stopped_ms = events[1].end_ms + 500
    scored = counting.windows - before
    # Every window from the first voiced one to the end of the turn, none of the lead-in.
    assert (stopped_ms - events[0].start_ms) // 32 <= scored + 1
    assert scored < (len(audio) // 2 * 1000 // rate - 1000) // 32 + 2
    noisy = VadStream(counting, VadParams(), rate)
    before = counting.windows
    noisy.process_sync(noise_pcm(1000, rate, rms=100.0))  # -50 dBFS: the model decides
    assert counting.windows - before == 1000 // 32


def test_streams_keep_separate_state(speak, silero: SileroVad) -> None:
    talking = VadStream(silero, VadParams(), 16_000)
    quiet = VadStream(silero, VadParams(), 16_000)
    events = talking.process_sync(speak(SENTENCE, 16_000)[:32_000])
    assert [type(e) for e in events] == [SpeechStarted]
    assert quiet.process_sync(silence_pcm(1000, 16_000)) == []
    assert talking.speaking
    assert not quiet.speaking


class TestSegmenter:
    """The state machine alone, on probabilities (32 ms windows)."""

    def run(self, probabilities: list[float], **params: int | float) -> list[object]:
        segmenter = SpeechSegmenter(VadParams(**params))  # type: ignore[arg-type]
        return [e for p in probabilities if (e := segmenter.push(p)) is not None]

    def test_start_is_dated_to_the_first_voiced_window_and_end_to_the_last(self) -> None:
        events = self.run([0.0] * 10 + [0.9] * 20 + [0.0] * 20, silence_duration_ms=320)
        assert events == [SpeechStarted(320, 20), SpeechStopped(960)]

    def test_short_blip_does_not_start_speech(self) -> None:
        assert self.run([0.0, 0.9, 0.0, 0.0], min_speech_ms=96) == []

    def test_pause_shorter_than_silence_duration_keeps_the_turn(self) -> None:
        probs = [0.9] * 10 + [0.0] * 9 + [0.9] * 10 + [0.0] * 20
        events = self.run(probs, silence_duration_ms=320, prefix_padding_ms=0)
        assert events == [SpeechStarted(0, 0), SpeechStopped(928)]

    def test_threshold_is_honoured(self) -> None:
        probs = [0.6] * 10
        assert self.run(probs, threshold=0.7) == []
        assert len(self.run(probs, threshold=0.5)) == 1

    def test_onset_needs_the_threshold_and_a_candidate_lives_on_above_the_lower_one(self) -> None:
        assert self.run([0.45] * 10) == []  # never reaches 0.5
        assert self.run([0.55, 0.4, 0.45], min_speech_ms=96, prefix_padding_ms=0) == [
            SpeechStarted(0, 0)
        ]
        assert self.run([0.55, 0.3, 0.45], min_speech_ms=96) == []  # 0.3 < 0.35 ends it
