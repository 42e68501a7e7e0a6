"""Short turns decoded with a trimmed audio window read the same as with Whisper's full 30 s."""

import numpy as np
import pytest

from bridge.audio import G711Law, StreamResampler
from bridge.pipeline.short_audio import compression_ratio, repeats_itself, transcribe_short
from bridge.pipeline.stt import SpeechToText

pytestmark = pytest.mark.slow
TURNS = [
    "When are you open on Saturday morning?",
    "I would like to book a table for four people tonight.",
    "Goodbye.",
    "Yes.",
    "No, that is not what I asked for, I wanted the blue one.",
]


def phone_audio(speak, text: str) -> np.ndarray:
    law = G711Law.PCMU
    pcm = StreamResampler(8000, 16_000).process(law.decode(law.encode(speak(text, 8000))))
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768


@pytest.fixture(scope="module")
def full_window():
    engine = SpeechToText(short_context=False)
    yield engine
    engine.close()


@pytest.mark.parametrize("text", TURNS)
def test_the_short_window_reads_what_the_full_window_reads(
    text: str, speak, stt: SpeechToText, full_window: SpeechToText
) -> None:
    audio = phone_audio(speak, text)
    short = transcribe_short(stt._model, audio, "en", None)
    assert short is not None  # no loop, no fallback: the short window did it
    assert short == full_window.transcribe_sync(audio).text
    assert stt.transcribe_sync(audio).text == short  # and it is what SpeechToText uses


def test_long_audio_and_unknown_languages_take_the_full_path(stt: SpeechToText, speak) -> None:
    long_audio = np.zeros(16_000 * 21, dtype=np.float32)
    assert transcribe_short(stt._model, long_audio, "en", None) is None


def test_silence_is_left_to_the_full_window(stt: SpeechToText) -> None:
    # The short window would hallucinate "you" here; the full window reads nothing.
    assert transcribe_short(stt._model, np.zeros(16_000, dtype=np.float32), "en", None) is None
    assert stt.transcribe_sync(np.zeros(16_000, dtype=np.float32)).text == ""


def test_a_prompt_steers_spelling(stt: SpeechToText, speak) -> None:
    audio = phone_audio(speak, "I would like to speak to Siobhan, please.")
    text = transcribe_short(stt._model, audio, "en", "Siobhan")
    assert text is not None
    assert "Siobhan" in text


def test_repetition_is_recognised() -> None:
    assert compression_ratio("Goodbye. " * 12) > 2.4
    assert compression_ratio("When are you open on Saturday morning?") < 2.4
    assert repeats_itself("Enter your branch code. Enter your branch code. Enter your branch")
    assert repeats_itself("Thank you, call it from Paris. Paris, Paris, Paris, Paris, Fre")
    assert not repeats_itself("Yes. Yes. Thank you.")  # one-word answers do come twice
    assert not repeats_itself("When are you open? And on Sundays?")


def test_warm_runs_the_short_window_only(stt: SpeechToText, monkeypatch) -> None:
    # Silence defers to the full window in a real turn; warming up must not pay for that.
    calls: list[int] = []
    generate = stt._model.model.generate

    def counted(features, *args, **kwargs):
        calls.append(features.shape[2])  # frames of the window the model read
        return generate(features, *args, **kwargs)

    monkeypatch.setattr(stt._model, "model", _Proxy(stt._model.model, generate=counted))
    stt.warm()
    assert len(calls) == 1
    assert calls[0] < 3000


class _Proxy:
    """The CTranslate2 model with some attributes replaced (its own are read-only)."""

    def __init__(self, inner, **overrides) -> None:
        self._inner, self._overrides = inner, overrides

    def __getattr__(self, name: str):
        return self._overrides.get(name) or getattr(self._inner, name)
