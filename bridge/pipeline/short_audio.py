"""Whisper on a short utterance without paying for 30 seconds of audio.

Whisper's encoder always reads a 30 s window, and faster-whisper pads every input to it: a 2 s
phone turn costs as much as 30 s (about 0.9 CPU seconds for tiny.en on a 2-core machine). The
CTranslate2 encoder takes shorter inputs, and cut at the utterance alone the decoder loses the
end of the window and loops ("Goodbye. Goodbye. Goodbye."); followed by 10 s of silence it
transcribes exactly as with the full window, in about a third of the time (measured on Piper
sentences through G.711: identical text, 0.36 vs 1.02 CPU seconds).

Used for English (or a given language) up to 20 s of audio; anything it cannot do well (language
detection, long audio, a transcript that repeats itself) goes to faster-whisper's full path.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FRAMES_PER_SECOND = 100  # Whisper's log-mel hop is 10 ms
WINDOW_FRAMES = 3000  # the 30 s the model was trained on
SILENCE_AFTER_FRAMES = 1000  # 10 s: enough for the decoder to see the speech has ended
MAX_AUDIO_S = 20.0
MAX_PROMPT_TOKENS = 223  # half the decoder's context, as Whisper allows for a prompt
REPEATING = 2.4  # gzip compression ratio above which text is a loop (Whisper's own test)
NO_SPEECH = 0.6  # Whisper's own threshold on its no-speech probability


def compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / max(1, len(zlib.compress(data)))


def repeats_itself(text: str) -> bool:
    """A loop, the way the trimmed window fails: too compressible, one word three times
    running ("Paris, Paris, Paris"), or a run of two to eight words said twice running. A false
    alarm only costs a decode with the full window."""
    if compression_ratio(text) > REPEATING:
        return True
    words = re.findall(r"[\w']+", text.lower())
    for size in range(1, 9):
        times = 3 if size == 1 else 2
        span = size * times
        for start in range(len(words) - span + 1):
            run = words[start : start + size]
            if all(words[start + k * size : start + (k + 1) * size] == run for k in range(times)):
                return True
    return False


@dataclass(frozen=True)
class ShortInput:
    """One utterance made ready for the trimmed-window decode. Inputs with the same ``shape``
    can share one ``generate`` call: the same window length (a longer window of silence
    changes the text: measured, "Paris" became "pairs" with one second more) and the same
    prompt length (CTranslate2 needs the start token at one position across a batch)."""

    window: npt.NDArray[np.float32]  # (mels, frames)
    tokens: list[int]
    max_length: int
    tokenizer: Any

    @property
    def shape(self) -> tuple[int, int]:
        return self.window.shape[1], len(self.tokens)


def prepare_short(
    model: Any, audio: npt.NDArray[np.float32], language: str | None, prompt: str | None
) -> ShortInput | None:
    """``audio`` (16 kHz mono float) ready to decode, or None when the full path must do it."""
    from faster_whisper.tokenizer import Tokenizer

    multilingual = bool(model.model.is_multilingual)
    if len(audio) / 16_000 > MAX_AUDIO_S or (multilingual and not language):
        return None
    features = model.feature_extractor(audio)  # (mels, frames) with Whisper's own padding
    frames = min(WINDOW_FRAMES, _round_up(len(audio) // 160 + SILENCE_AFTER_FRAMES, 100))
    window = np.full((features.shape[0], frames), features.min(), dtype=np.float32)
    used = min(frames, features.shape[1])
    window[:, :used] = features[:, :used]
    tokenizer = Tokenizer(
        model.hf_tokenizer, multilingual, task="transcribe", language=language or "en"
    )
    tokens: list[int] = []
    if prompt:
        tokens = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip())[-MAX_PROMPT_TOKENS:]]
    tokens += [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    max_length = len(tokens) + int(16 + 10 * len(audio) / 16_000)  # far above any talker's rate
    return ShortInput(window, tokens, max_length, tokenizer)


def decode_short(model: Any, inputs: Sequence[ShortInput]) -> list[str | None]:
    """The text of each input, decoded together in one batch (all of one ``shape``), or None
    for an input the full path must do. Greedy decoding is per row: an input's text is the
    same alone or in a batch, and a longer ``max_length`` for the batch only lets a row run
    on past its own limit, which counts as a loop, as it would alone."""
    import ctranslate2

    if len({item.shape for item in inputs}) > 1:
        raise ValueError("inputs of different shapes cannot share a batch")
    windows = np.ascontiguousarray(np.stack([item.window for item in inputs]))
    results = model.model.generate(
        ctranslate2.StorageView.from_array(windows),
        [item.tokens for item in inputs],
        beam_size=1,
        max_length=max(item.max_length for item in inputs),
        return_no_speech_prob=True,
        suppress_blank=True,
    )
    texts: list[str | None] = []
    for item, result in zip(inputs, results, strict=True):
        ids = result.sequences_ids[0]
        text = str(item.tokenizer.decode(ids)).strip()
        ran_out = len(ids) >= item.max_length - len(item.tokens) - 1  # talking at the limit
        # Likely no speech (where the short window hallucinates "you"), or a loop after all:
        # the full window decides, as faster-whisper would.
        bad = result.no_speech_prob > NO_SPEECH or ran_out or repeats_itself(text)
        texts.append(None if bad else text)
    return texts


def transcribe_short(
    model: Any, audio: npt.NDArray[np.float32], language: str | None, prompt: str | None
) -> str | None:
    """The text of ``audio`` (16 kHz mono float), or None when the full path must do it."""
    item = prepare_short(model, audio, language, prompt)
    return None if item is None else decode_short(model, [item])[0]


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step
