"""LLM stream chunks through :class:`~bridge.pipeline.llm.ChunkReader`, built the way the
openai client builds them from each SSE event (``construct_type``: no validation): a chunk is
text and tool-call deltas or an LLMError, and the reply the reader completes is well typed.

Inputs: the chunks an OpenAI-compatible endpoint streams (text, tool calls, finish, usage),
then seeded mutations of them (wrong types, huge numbers and strings, dropped keys, deep
nesting, cut and garbled text)."""

from __future__ import annotations

import json
from typing import Any

from fuzz_profiles import FUZZ, Counter, json_variants
from hypothesis import given
from hypothesis import strategies as st
from openai._models import construct_type
from openai.types.chat import ChatCompletionChunk

from bridge.pipeline.llm import ChunkReader, Completed, LLMError, TextDelta, ToolCallDelta

ENVELOPE = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
CHUNKS: list[dict[str, Any]] = [
    ENVELOPE | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
    ENVELOPE | {"choices": [{"index": 0, "delta": {"content": "Hello there, "}}]},
    ENVELOPE
    | {
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": '{"q": '},
                        }
                    ]
                },
            }
        ]
    },
    ENVELOPE
    | {
        "choices": [
            {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}
        ]
    },
    ENVELOPE | {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ENVELOPE
    | {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}},
]


def feed(reader: ChunkReader, text: str) -> None:
    try:
        data = json.loads(text)  # what the openai client does with an SSE event's data
    except (ValueError, RecursionError):
        return  # ChatLLM.stream reports it as a malformed stream
    chunk = construct_type(type_=ChatCompletionChunk, value=data)
    try:
        events = reader.feed(chunk)
    except LLMError:
        return
    for event in events:
        assert isinstance(event, TextDelta | ToolCallDelta)
        if isinstance(event, TextDelta):
            assert isinstance(event.text, str)
        else:
            assert isinstance(event.index, int)
            assert isinstance(event.name, str)
            assert isinstance(event.arguments, str)


def test_every_chunk_is_deltas_or_an_llm_error_and_the_reply_is_well_typed() -> None:
    counter = Counter()

    @FUZZ
    @given(prefix=st.integers(0, len(CHUNKS)), chunk=st.sampled_from(CHUNKS), seed=st.integers())
    def fuzz(prefix: int, chunk: dict[str, Any], seed: int) -> None:
        reader = ChunkReader()
        for good in CHUNKS[:prefix]:  # a stream part-way through: text or a tool call begun
            feed(reader, json.dumps(good))
        for text in json_variants(chunk, seed):
            counter()
            feed(reader, text)
        done = reader.completed()
        assert isinstance(done, Completed)
        assert isinstance(done.text, str)
        assert isinstance(done.finish_reason, str)
        assert all(
            isinstance(c.name, str) and isinstance(c.arguments, str) for c in done.tool_calls
        )
        assert isinstance(done.usage.input_tokens, int)
        assert isinstance(done.usage.output_tokens, int)

    fuzz()
    counter.check()
