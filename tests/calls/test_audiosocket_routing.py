"""Regression: an Asterisk AudioSocket call is routed through the dialplans like every other
call. It used to go straight to the agent (the AudioSocket door built its Call without the
call flow), so a bridge whose default was a dialplan greeted AudioSocket callers with the
agent instead. The bridge's own app and AudioSocket server over real TCP, on fake engines."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bridge.app import create_app
from bridge.carriers.audiosocket import AudioSocketCarrierSide
from bridge.config import Settings
from bridge.pipeline.text import split_sentences
from bridge.testing.fakes import Fakes, FakeTTS
from bridge.testing.serve import serve_app

AGENT_GREETING = "Hello, this is the assistant. How can I help?"
WELCOME = "Welcome to the Asterisk test line."
GOODBYE = "Goodbye from the dialplan."
PLAN = f"""
name: audiosocket-default
start: welcome
nodes:
  welcome:
    type: say
    text: {WELCOME}
    next: bye
  bye:
    type: hangup
    text: {GOODBYE}
"""


async def asterisk_call(tmp_path: Path, fakes: Fakes) -> list[tuple[str, Any]]:
    """Run the bridge with :data:`PLAN` as its default dialplan, make one AudioSocket call to
    it, and return every frame Asterisk got until the bridge closed the connection."""
    plan = tmp_path / "default.yaml"
    plan.write_text(PLAN)
    settings = Settings(
        api_keys=[],
        audiosocket_port=0,
        greeting=AGENT_GREETING,  # what the agent would say first
        default_dialplan=str(plan),  # BRIDGE_DEFAULT_DIALPLAN: answers every unrouted call
        dialplans_dir=str(tmp_path / "routed"),  # no routed dialplans
    )
    app = create_app(settings, engines=fakes.engines())
    side = AudioSocketCarrierSide()
    received: list[tuple[str, Any]] = []
    async with serve_app(app):
        port = app.state.runtime.audiosocket_port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(side.uuid())
            await writer.drain()
            checked = False
            async with asyncio.timeout(10):
                while chunk := await reader.read(65536):
                    received += side.feed(chunk)
                    if not checked and received:
                        # Whoever answered has begun to speak: it must be the dialplan.
                        checked = True
                        first_words = fakes.tts.requests[0][0]
                        expected = split_sentences(WELCOME)[0]
                        assert first_words == expected, "the agent answered, not the dialplan"
        finally:
            writer.close()
            await writer.wait_closed()
    return received


async def test_audiosocket_call_hears_the_default_dialplan_not_the_agent(tmp_path: Path) -> None:
    fakes = Fakes(tts=FakeTTS(ms_per_char=2))  # short prompts: this runs in real time
    received = await asterisk_call(tmp_path, fakes)

    spoken = [text for text, _ in fakes.tts.requests]
    # The dialplan answered: its prompts, in order, and never the agent's greeting.
    assert spoken == [*split_sentences(WELCOME), *split_sentences(GOODBYE)], spoken
    assert fakes.llm.requests == []
    # The caller heard both prompts in full (16-bit PCM at 8 kHz: 16 bytes a millisecond, in
    # 20 ms frames, each prompt's last one padded), and then the bridge hung up (the
    # connection closed: the loop above ended).
    audio = b"".join(value for kind, value in received if kind == "media")
    prompt_ms = sum(fakes.tts.duration_ms(clause) for clause in spoken)
    assert prompt_ms * 16 <= len(audio) < (prompt_ms + 2 * 20) * 16


async def test_the_dialplans_hangup_reaches_asterisk_as_a_hangup_frame(tmp_path: Path) -> None:
    received = await asterisk_call(tmp_path, Fakes(tts=FakeTTS(ms_per_char=2)))
    assert received[-1] == ("hangup", None)
