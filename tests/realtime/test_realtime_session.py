"""The conversation engine on its own (no socket): failure paths that need a broken engine."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bridge.config import Settings
from bridge.engine import commands as cmd
from bridge.engine import events as ev
from bridge.engine.config import InputTranscription, SessionConfig
from bridge.engine.items import InputAudioPart, MessageItem
from bridge.engine.session import LocalConversation
from bridge.pipeline.engines import Engines
from bridge.pipeline.llm import ChatLLM
from bridge.realtime.dialect import Dialect
from bridge.realtime.events import render_event
from bridge.testing.sdk_validation import validate_server_event
from bridge.testing.serve import free_port


class BrokenSTT:
    async def transcribe(self, pcm16k: bytes, **_: Any) -> Any:
        raise RuntimeError("the STT device went away")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("dialect", [Dialect.BETA, Dialect.GA])
async def test_failed_transcription_and_unreachable_llm_are_reported(
    dialect: Dialect, piper: Any, stt: Any, silero: Any
) -> None:
    llm = ChatLLM(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="", model="m", timeout_s=2)
    engines = Engines(vad=silero, stt=BrokenSTT(), tts=piper, llm=llm)  # type: ignore[arg-type]
    seen: list[dict[str, Any]] = []

    def emit(event: ev.EngineEvent) -> None:
        rendered = render_event(event, dialect)
        if rendered is not None:
            validate_server_event(rendered, dialect)
            seen.append(rendered)

    config = dataclasses.replace(
        SessionConfig(), input_transcription=InputTranscription("whisper-1")
    )
    session = LocalConversation(
        engines=engines, settings=Settings().conversation, emit=emit, config=config
    )
    session.start()
    item = MessageItem("user", [InputAudioPart(audio=bytes(48_000))])
    await session.handle(cmd.CreateItem(item))
    await session.handle(cmd.CreateResponse())
    assert session._run_task is not None
    await session._run_task
    await session.close()
    await llm.close()
    types = [e["type"] for e in seen]
    failed = next(
        e for e in seen if e["type"] == "conversation.item.input_audio_transcription.failed"
    )
    assert "went away" in failed["error"]["message"]
    done = seen[types.index("response.done")]["response"]
    assert done["status"] == "failed"
    assert "unreachable" in done["status_details"]["error"]["message"]
    assert any(e["type"] == "error" and e["error"]["type"] == "server_error" for e in seen)
