"""Spoken turns over /v1/realtime: real synthesized speech in, real synthesized speech out."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable

import pytest
from conftest import LONG_STORY, RunningBridge

from bridge.audio import G711Law, StreamResampler
from bridge.pipeline.stt import SpeechToText
from bridge.realtime.dialect import Dialect
from bridge.testing.realtime_client import RealtimeProbe, audio_of, connect
from bridge.testing.speech import silence_pcm, word_error_rate

pytestmark = pytest.mark.slow
HOURS = "We are open from nine in the morning until five in the evening."
QUESTION = "What are your opening hours?"


async def transcribe(stt: SpeechToText, pcm: bytes, rate: int) -> str:
    return (await stt.transcribe(StreamResampler(rate, 16_000).process(pcm))).text


async def talk(rt: RealtimeProbe, audio: bytes, bytes_per_ms: int) -> None:
    await rt.send_audio(audio, bytes_per_ms=bytes_per_ms)


@pytest.mark.parametrize("dialect", [Dialect.BETA, Dialect.GA])
async def test_spoken_turn_under_server_vad_is_answered_with_speech(
    bridge: RunningBridge, dialect: Dialect, speak: Callable[[str, int], bytes], stt: SpeechToText
) -> None:
    question = silence_pcm(400, 24_000) + speak(QUESTION, 24_000) + silence_pcm(1200, 24_000)
    if dialect is Dialect.BETA:
        update = {"input_audio_transcription": {"model": "whisper-1"}}
    else:
        update = {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}
    async with connect(bridge.ws_url, dialect) as rt:
        await rt.send({"type": "session.update", "session": update})
        await rt.until("session.updated")
        sender = asyncio.create_task(talk(rt, question, 48))
        events = await rt.until("response.done", timeout_s=60)
        await sender
    types = [e["type"] for e in events]
    for expected in (
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
    ):
        assert expected in types
    assert types.index("input_audio_buffer.speech_stopped") < types.index(
        "input_audio_buffer.committed"
    )
    heard = next(
        e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    assert word_error_rate(QUESTION, heard["transcript"]) <= 0.4, heard["transcript"]
    assert events[-1]["response"]["status"] == "completed"
    reply = await transcribe(stt, audio_of(events), 24_000)
    assert word_error_rate(HOURS, reply) <= 0.2, reply
    assert bridge.llm.requests[-1]["messages"][-1]["role"] == "user"


async def test_push_to_talk_with_manual_commit(
    bridge: RunningBridge, speak: Callable[[str, int], bytes], stt: SpeechToText
) -> None:
    async with connect(bridge.ws_url, Dialect.BETA) as rt:
        await rt.send(
            {
                "type": "session.update",
                "session": {
                    "turn_detection": None,
                    "input_audio_transcription": {"model": "whisper-1"},
                },
            }
        )
        await rt.until("session.updated")
        await rt.send_audio(speak(QUESTION, 24_000), real_time=False)
        await rt.send({"type": "input_audio_buffer.commit"})
        committed = await rt.until("input_audio_buffer.committed")
        assert not any(e["type"].startswith("input_audio_buffer.speech") for e in committed)
        await rt.send({"type": "response.create"})
        events = await rt.until("response.done")
    types = [e["type"] for e in events]
    assert "conversation.item.input_audio_transcription.completed" in types
    assert events[-1]["response"]["status"] == "completed"
    transcript = next(e for e in events if e["type"] == "response.audio_transcript.done")
    assert transcript["transcript"] == HOURS
    assert word_error_rate(HOURS, await transcribe(stt, audio_of(events), 24_000)) <= 0.2


async def test_g711_ulaw_in_and_out(
    bridge: RunningBridge, speak: Callable[[str, int], bytes], stt: SpeechToText
) -> None:
    question = G711Law.PCMU.encode(
        silence_pcm(400, 8000) + speak(QUESTION, 8000) + silence_pcm(1200, 8000)
    )
    async with connect(bridge.ws_url, Dialect.BETA) as rt:
        await rt.send(
            {
                "type": "session.update",
                "session": {"input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw"},
            }
        )
        await rt.until("session.updated")
        sender = asyncio.create_task(rt.send_audio(question, bytes_per_ms=8))
        events = await rt.until("response.done", timeout_s=60)
        await sender
    reply_ulaw = audio_of(events)
    assert reply_ulaw
    reply = await transcribe(stt, G711Law.PCMU.decode(reply_ulaw), 8000)
    assert word_error_rate(HOURS, reply) <= 0.2, reply


@pytest.mark.parametrize("dialect", [Dialect.BETA, Dialect.GA])
async def test_transcription_only_session(
    bridge: RunningBridge, dialect: Dialect, speak: Callable[[str, int], bytes]
) -> None:
    speech = silence_pcm(300, 24_000) + speak(QUESTION, 24_000) + silence_pcm(1000, 24_000)
    query = {"intent": "transcription"} if dialect is Dialect.GA else {}
    async with connect(bridge.ws_url, dialect, extra_query=query) as rt:
        if dialect is Dialect.BETA:
            await rt.send(
                {
                    "type": "transcription_session.update",
                    "session": {"input_audio_transcription": {"model": "gpt-4o-transcribe"}},
                }
            )
            await rt.until("transcription_session.updated")
        sender = asyncio.create_task(rt.send_audio(speech))
        events = await rt.until("conversation.item.input_audio_transcription.completed")
        await sender
        await rt.send({"type": "input_audio_buffer.clear"})
        after = await rt.until("input_audio_buffer.cleared")
    assert word_error_rate(QUESTION, events[-1]["transcript"]) <= 0.4
    assert not any(e["type"].startswith("response.") for e in events + after)
    assert any(e["type"] == "conversation.item.input_audio_transcription.delta" for e in events)
    assert not bridge.llm.requests


async def test_barge_in_cancels_the_reply_and_keeps_only_what_was_heard(
    bridge: RunningBridge, speak: Callable[[str, int], bytes]
) -> None:
    async with connect(bridge.ws_url, Dialect.BETA) as rt:
        await rt.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Tell me a long story."}],
                },
            }
        )
        await rt.send({"type": "response.create"})
        before = await rt.until("response.audio.delta")
        item_id = next(e for e in before if e["type"] == "response.output_item.added")["item"]["id"]
        interruption = silence_pcm(200, 24_000) + speak("Stop, please wait.", 24_000)
        sender = asyncio.create_task(rt.send_audio(interruption + silence_pcm(800, 24_000)))
        events = await rt.until("response.done", timeout_s=60)
        done = events[-1]["response"]
        assert done["status"] == "cancelled"
        assert done["status_details"]["reason"] == "turn_detected"
        types = [e["type"] for e in events]
        assert types.index("input_audio_buffer.speech_started") < types.index("response.done")
        # The reply is cut first, then the item is truncated to what had played.
        truncated = (await rt.until("conversation.item.truncated"))[-1]
        assert truncated["item_id"] == item_id
        await sender
        await rt.send({"type": "conversation.item.retrieve", "item_id": item_id})
        retrieved = (await rt.until("conversation.item.retrieved"))[-1]["item"]
    kept = retrieved["content"][0]["transcript"]
    full = LONG_STORY
    assert 0 < len(kept) < len(full) / 2
    assert full.startswith(kept)
    kept_ms = len(base64.b64decode(retrieved["content"][0]["audio"])) / 48
    assert kept_ms == pytest.approx(truncated["audio_end_ms"], abs=1)


async def test_response_cancel_stops_generation_at_once(bridge: RunningBridge) -> None:
    async with connect(bridge.ws_url, Dialect.GA) as rt:
        await rt.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Tell me a long story."}],
                },
            }
        )
        await rt.send({"type": "response.create"})
        created = (await rt.until("response.created"))[-1]["response"]
        await rt.send({"type": "response.cancel", "response_id": created["id"]})
        events = await rt.until("response.done")
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"]["reason"] == "client_cancelled"
    spoken = sum(len(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    assert spoken < 48_000 * 4 / 3 * 5  # far less than the ~40 s the full story would take
