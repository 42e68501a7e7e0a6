"""Backchannel or interruption, judged by the real models: Silero VAD and Whisper tiny.en hear
Piper's voice over a phone line (μ-law, 8 kHz) while a reply is paused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from engine_harness import PCMU, ResumableListener, config, drivers, ev

from bridge.audio import G711Law
from bridge.pipeline.llm import TextDelta
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.vad import SileroVad
from bridge.testing.fakes import Fakes, Hold, until

pytestmark = pytest.mark.slow

PHONE = config(input_audio_format=PCMU, output_audio_format=PCMU)
QUIET = b"\xff" * 8 * 700  # 700 ms of μ-law silence: the VAD ends the speech (500 ms)


@pytest.mark.parametrize(
    ("said", "backchannel"),
    [
        ("Mm-hmm.", True),
        ("Uh-huh.", True),
        ("Okay.", True),
        ("Right.", True),
        ("No, that's wrong.", False),
        ("Stop, wait.", False),
    ],
)
async def test_real_speech_over_a_paused_reply(
    silero: SileroVad,
    stt: SpeechToText,
    speak: Callable[[str, int], bytes],
    said: str,
    backchannel: bool,
) -> None:
    fakes = Fakes(vad=silero, stt=stt)  # type: ignore[arg-type]
    hold = Hold()
    fakes.llm.replies.append([TextDelta("Let me tell you about our opening hours. "), hold])
    listener = ResumableListener()
    async with drivers(fakes) as start:
        driver = start(PHONE, listener=listener)
        await driver.say_user("When are you open?")
        await until(lambda: len(driver.audio_bytes()) > 0)
        listener.heard = 200
        caller = G711Law("pcmu").encode(speak(said, 8000)) + QUIET
        await driver.feed(caller)
        assert len(driver.of(ev.InputAudioBufferSpeechStopped)) == 1
        if backchannel:
            assert len(listener.resumed) == 1
            assert driver.of(ev.ConversationItemTruncated) == []
            assert driver.of(ev.InputAudioBufferCommitted) == []
            hold.release()
        else:
            done = await driver.wait_for(ev.ResponseDone)
            assert done.response.status == "cancelled"
            assert driver.of(ev.ConversationItemTruncated)[0].audio_end_ms == 200
            assert listener.resumed == []
