"""Speech helpers for tests and the simulated caller: word error rate and text normalisation."""

from __future__ import annotations

import re

import numpy as np

_NUMBERS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation, with small numbers as digits."""
    words = re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))
    return [_NUMBERS.get(word, word) for word in words]


def contains_phrase(heard: str, phrase: str) -> bool:
    """Whether a transcript contains a phrase, ignoring case, punctuation and word breaks.

    Whisper writes the same speech as "goodbye" one run and "Good bye." the next.
    """
    return "".join(normalize_words(phrase)) in "".join(normalize_words(heard))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by edit distance."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
            )
        previous = current
    return previous[-1] / len(ref)


def silence_pcm(ms: int, rate: int) -> bytes:
    return bytes(2 * (rate * ms // 1000))


def trimmed(pcm: bytes) -> bytes:
    """16-bit PCM without its leading and trailing near-silence (below -40 dBFS)."""
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 328)
    return samples[loud[0] : loud[-1] + 1].tobytes()


def noise_pcm(ms: int, rate: int, rms: float, seed: int = 7) -> bytes:
    """Gaussian noise with the given RMS in 16-bit sample units."""
    samples = np.random.default_rng(seed).normal(0.0, rms, rate * ms // 1000)
    return np.clip(samples, -32768, 32767).round().astype("<i2").tobytes()
