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

import itertools
import re
import zlib
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
    """A loop: too compressible, or a sentence of several words said twice in a row (too short
    for the compression test to notice, and what the trimmed window does when it loops)."""
    if compression_ratio(text) > REPEATING:
        return True
    sentences = [s.strip().lower() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    return any(a == b and len(a.split()) >= 2 for a, b in itertools.pairwise(sentences))


def transcribe_short(
    model: Any, audio: npt.NDArray[np.float32], language: str | None, prompt: str | None
) -> str | None:
    """The text of ``audio`` (16 kHz mono float), or None when the full path must do it."""
    from faster_whisper.tokenizer import Tokenizer

    multilingual = bool(model.model.is_multilingual)
    if len(audio) / 16_000 > MAX_AUDIO_S or (multilingual and not language):
        return None
    import ctranslate2

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
    (result,) = model.model.generate(
        ctranslate2.StorageView.from_array(np.ascontiguousarray(window[np.newaxis])),
        [tokens],
        beam_size=1,
        max_length=int(16 + 10 * len(audio) / 16_000),  # far above any speaker's rate
        return_no_speech_prob=True,
        suppress_blank=True,
    )
    text = str(tokenizer.decode(result.sequences_ids[0])).strip()
    if result.no_speech_prob > NO_SPEECH or repeats_itself(text):
        # Likely no speech (where the short window hallucinates "you"), or a loop after all:
        # the full window decides, as faster-whisper would.
        return None
    return text


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step
