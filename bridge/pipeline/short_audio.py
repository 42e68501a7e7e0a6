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
    max_length = len(tokens) + int(16 + 10 * len(audio) / 16_000)  # far above any talker's rate
    (result,) = model.model.generate(
        ctranslate2.StorageView.from_array(np.ascontiguousarray(window[np.newaxis])),
        [tokens],
        beam_size=1,
        max_length=max_length,
        return_no_speech_prob=True,
        suppress_blank=True,
    )
    ids = result.sequences_ids[0]
    text = str(tokenizer.decode(ids)).strip()
    ran_out = len(ids) >= max_length - len(tokens) - 1  # still talking at the limit: a loop
    if result.no_speech_prob > NO_SPEECH or ran_out or repeats_itself(text):
        # Likely no speech (where the short window hallucinates "you"), or a loop after all:
        # the full window decides, as faster-whisper would.
        return None
    return text


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step
