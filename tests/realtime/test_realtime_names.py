"""Drop-in model and voice names, and the session knobs OpenAI clients send by default."""

from __future__ import annotations

import pytest
from conftest import RunningBridge

from bridge.config import Settings
from bridge.realtime.dialect import Dialect
from bridge.testing.realtime_client import audio_of, connect

pytestmark = pytest.mark.slow


@pytest.fixture
def bridge_settings() -> Settings:
    return Settings(
        default_dialplan="agent",
        model_map={"gpt-4o-realtime-preview-2024-12-17": "small-local-model"},
    )


def ask(text: str) -> dict[str, object]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


@pytest.mark.parametrize(
    ("model", "llm_model"),
    [
        ("gpt-4o-realtime-preview-2024-12-17", "small-local-model"),  # mapped
        ("gpt-realtime", "scripted"),  # unmapped: the configured LLM
    ],
)
async def test_realtime_model_names_map_to_llm_models(
    bridge: RunningBridge, model: str, llm_model: str
) -> None:
    async with connect(bridge.ws_url, Dialect.BETA, model=model) as rt:
        created = (await rt.until("session.created"))[-1]
        assert created["session"]["model"] == model
        await rt.send({"type": "session.update", "session": {"modalities": ["text"]}})
        await rt.send(ask("What are your hours?"))
        await rt.send({"type": "response.create"})
        events = await rt.until("response.done")
    assert bridge.llm.requests[-1]["model"] == llm_model
    assert any(e["type"] == "rate_limits.updated" for e in events)


@pytest.mark.parametrize("voice", ["alloy", "ash", "coral", "marin", "verse"])
async def test_openai_voice_names_are_spoken_by_the_local_voice(
    bridge: RunningBridge, voice: str
) -> None:
    async with connect(bridge.ws_url, Dialect.GA) as rt:
        await rt.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": voice}}},
            }
        )
        updated = (await rt.until("session.updated"))[-1]
        assert updated["session"]["audio"]["output"]["voice"] == voice
        await rt.send(ask("What are your hours?"))
        await rt.send({"type": "response.create"})
        events = await rt.until("response.done")
    assert len(audio_of(events)) > 48_000  # more than half a second of speech
    assert events[-1]["response"]["audio"]["output"]["voice"] == voice


async def test_semantic_vad_and_transcription_model_names_are_accepted(
    bridge: RunningBridge,
) -> None:
    async with connect(bridge.ws_url, Dialect.GA) as rt:
        session = {
            "type": "realtime",
            "audio": {
                "input": {
                    "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
                    "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                }
            },
        }
        await rt.send({"type": "session.update", "session": session})
        updated = (await rt.until("session.updated"))[-1]["session"]["audio"]["input"]
    assert updated["turn_detection"]["type"] == "semantic_vad"
    assert updated["transcription"]["model"] == "gpt-4o-transcribe"


async def test_client_truncation_trims_audio_and_transcript(bridge: RunningBridge) -> None:
    async with connect(bridge.ws_url, Dialect.BETA) as rt:
        await rt.send(ask("What are your hours?"))
        await rt.send({"type": "response.create"})
        events = await rt.until("response.done")
        item = events[-1]["response"]["output"][0]
        full = item["content"][0]["transcript"]
        await rt.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item["id"],
                "content_index": 0,
                "audio_end_ms": 1200,
            }
        )
        truncated = (await rt.until("conversation.item.truncated"))[-1]
        assert truncated["audio_end_ms"] == 1200
        await rt.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
        kept = (await rt.until("conversation.item.retrieved"))[-1]["item"]["content"][0]
        await rt.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item["id"],
                "content_index": 0,
                "audio_end_ms": 99_000,
            }
        )
        error = (await rt.until("error"))[-1]["error"]
    assert error["param"] == "audio_end_ms"
    assert 0 < len(kept["transcript"]) < len(full)
    assert full.startswith(kept["transcript"])
    assert bridge.llm.requests  # the reply came from the LLM
