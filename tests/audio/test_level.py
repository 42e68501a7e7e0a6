"""Loudness helpers: speech or not, and a voice's lead-in."""

from __future__ import annotations

import numpy as np

from bridge.audio.level import audible_span, is_speech, trim_lead_in


def pcm(*parts: np.ndarray) -> bytes:
    return np.concatenate(parts).astype("<i2").tobytes()


def test_the_lead_in_is_cut_to_10ms_before_the_onset() -> None:
    rate = 16_000
    hush = np.full(rate * 50 // 1000, 150)  # 50 ms under the onset threshold
    voice = np.full(rate // 10, 4000)
    trimmed = trim_lead_in(pcm(hush, voice), rate)
    assert len(trimmed) == (rate * 10 // 1000 + len(voice)) * 2
    assert trimmed.endswith(pcm(voice))
    assert trim_lead_in(pcm(voice), rate) == pcm(voice)  # an onset at once: nothing to cut
    assert trim_lead_in(pcm(hush), rate) == pcm(hush)  # nothing loud: kept whole
    assert trim_lead_in(b"", rate) == b""
    assert trim_lead_in(pcm(np.array([-32768]), voice), rate) == pcm(np.array([-32768]), voice)


def test_speech_is_louder_than_line_noise() -> None:
    assert is_speech(pcm(np.full(160, 1000)))
    assert not is_speech(pcm(np.full(160, 100)))
    assert not is_speech(b"")


def test_the_voice_in_a_frame_is_dated_to_5ms() -> None:
    rate = 8_000
    quiet, loud = np.zeros(rate * 7 // 1000), np.full(rate * 9 // 1000, 3000)
    frame = pcm(quiet, loud, np.zeros(rate * 4 // 1000))  # 20 ms: voice from 7 ms to 16 ms
    span = audible_span(frame, rate)
    assert span is not None
    # 5 ms windows: the one at 5-10 ms is loud enough on its 3 ms of voice, 15-20 ms on its 1.
    assert span == (0.005, 0.020)
    assert audible_span(pcm(np.full(rate // 50, 100)), rate) is None
    assert audible_span(b"", rate) is None
