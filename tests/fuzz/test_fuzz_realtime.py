"""Realtime client events, both dialects, through :meth:`ServerConnection.receive`: every frame
becomes exactly one engine command or exactly one ``error`` event, and nothing raises.

Inputs: every client event type with every field (valid templates of both dialects, then
seeded mutations: wrong types, huge numbers and strings, dropped fields, deep nesting, cut and
garbled text), plus free-form JSON built from the protocol's own field names and words."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fuzz_profiles import FUZZ, Counter, json_values, json_variants
from hypothesis import given
from hypothesis import strategies as st

from bridge.engine import commands as cmd
from bridge.engine.config import SessionConfig
from bridge.realtime.client_events import client_event_types
from bridge.realtime.dialect import Dialect
from bridge.realtime.server import ServerConnection

FIELDS = """session audio input output format type rate turn_detection threshold
prefix_padding_ms silence_duration_ms idle_timeout_ms create_response interrupt_response
eagerness transcription model language prompt voice id speed tools name description parameters
tool_choice function temperature max_output_tokens max_response_output_tokens modalities
output_modalities instructions input_audio_format output_audio_format input_audio_transcription
item role content text transcript arguments call_id output status previous_item_id item_id
content_index audio_end_ms response conversation metadata response_id event_id""".split()
WORDS = """realtime transcription server_vad semantic_vad audio/pcm audio/pcmu audio/pcma pcm16
g711_ulaw g711_alaw message function_call function_call_output item_reference user assistant
system input_text input_audio text audio output_text output_audio auto none required inf low
high medium function alloy default completed AAAA //8= root""".split()

TOOL = {
    "type": "function",
    "name": "lookup",
    "description": "Look a thing up",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
}
TURN = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": 6000,
    "create_response": True,
    "interrupt_response": True,
}
ITEMS = [
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "AAAA"}]},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
    {"type": "message", "role": "assistant", "content": [{"type": "audio", "transcript": "t"}]},
    {"type": "function_call", "name": "lookup", "call_id": "c1", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "c1", "output": "{}", "id": "item_1"},
]
COMMON = [
    {"type": "input_audio_buffer.append", "audio": "AAAAAA=="},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear"},
    *({"type": "conversation.item.create", "item": i, "previous_item_id": "root"} for i in ITEMS),
    {"type": "conversation.item.retrieve", "item_id": "item_1"},
    {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0, "audio_end_ms": 9},
    {"type": "conversation.item.delete", "item_id": "item_1"},
    {"type": "response.cancel", "response_id": "resp_1"},
    {"type": "output_audio_buffer.clear"},
]
RESPONSE = {
    "conversation": "none",
    "input": [ITEMS[0], {"type": "item_reference", "id": "item_1"}],
    "instructions": "be brief",
    "tools": [TOOL],
    "tool_choice": {"type": "function", "name": "lookup"},
    "temperature": 0.8,
    "metadata": {"k": "v"},
}
TEMPLATES: dict[Dialect, list[dict[str, Any]]] = {
    Dialect.BETA: [
        *COMMON,
        {
            "type": "session.update",
            "session": {
                "model": "gpt-4o-realtime-preview",
                "instructions": "hi",
                "voice": "alloy",
                "modalities": ["text", "audio"],
                "input_audio_format": "g711_ulaw",
                "output_audio_format": "pcm16",
                "input_audio_transcription": {"model": "whisper-1", "language": "en"},
                "turn_detection": TURN,
                "tools": [TOOL],
                "tool_choice": "auto",
                "temperature": 0.8,
                "max_response_output_tokens": "inf",
                "speed": 1.0,
            },
        },
        {
            "type": "transcription_session.update",
            "session": {"input_audio_format": "pcm16", "turn_detection": TURN},
        },
        {
            "type": "response.create",
            "response": RESPONSE
            | {
                "modalities": ["text"],
                "voice": "ash",
                "output_audio_format": "g711_alaw",
                "max_response_output_tokens": 100,
            },
        },
    ],
    Dialect.GA: [
        *COMMON,
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "model": "gpt-realtime",
                "instructions": "hi",
                "output_modalities": ["audio"],
                "tools": [TOOL],
                "tool_choice": "required",
                "max_output_tokens": 200,
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "transcription": {"model": "whisper-1"},
                        "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
                    },
                    "output": {
                        "format": {"type": "audio/pcmu"},
                        "voice": {"id": "marin"},
                        "speed": 1.2,
                    },
                },
            },
        },
        {"type": "session.update", "session": {"type": "transcription", "audio": {}}},
        {
            "type": "response.create",
            "response": RESPONSE
            | {
                "output_modalities": ["text"],
                "max_output_tokens": "inf",
                "audio": {"output": {"format": {"type": "audio/pcma"}, "voice": "cedar"}},
            },
        },
    ],
}
FREE_FORM = json_values(FIELDS, WORDS)


class Recorder:
    def __init__(self) -> None:
        self.config = SessionConfig()
        self.voice_locked = False
        self.commands: list[cmd.Command] = []

    async def handle(self, command: cmd.Command) -> None:
        self.commands.append(command)


def documents(dialect: Dialect) -> st.SearchStrategy[Any]:
    templates = st.sampled_from(TEMPLATES[dialect])
    free = st.builds(
        lambda kind, fields: {"type": kind} | fields,
        st.one_of(st.sampled_from(client_event_types(dialect)), st.text(max_size=8)),
        st.dictionaries(st.sampled_from(FIELDS), FREE_FORM, max_size=4),
    )
    return st.one_of(templates, templates, free)


@pytest.mark.parametrize("dialect", list(Dialect))
def test_every_client_frame_is_one_command_or_one_error_event(dialect: Dialect) -> None:
    counter = Counter()
    loop = asyncio.new_event_loop()
    sent: list[dict[str, Any]] = []
    connection = ServerConnection(dialect, sent.append, max_message_bytes=1 << 20)
    engine = Recorder()

    def check(frame: str | bytes) -> None:
        counter()
        sent.clear()
        engine.commands.clear()
        loop.run_until_complete(connection.receive(frame, engine))
        assert len(engine.commands) + len(sent) == 1, (frame[:200], sent, engine.commands)
        assert all(event["type"] == "error" for event in sent)

    @FUZZ
    @given(document=documents(dialect), seed=st.integers(0, 2**32), binary=st.booleans())
    def fuzz(document: Any, seed: int, binary: bool) -> None:
        frames = json_variants(document, seed)
        for frame in frames:
            check(frame)
        if binary:
            check(frames[-1].encode("utf-8", "surrogatepass"))  # binary frames are refused

    try:
        fuzz()
    finally:
        loop.close()
    counter.check()
