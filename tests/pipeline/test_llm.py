"""The LLM engine against a local OpenAI-compatible server, through the real openai client."""

import json
import time

import pytest

from bridge.pipeline.llm import ChatLLM, Completed, LLMError, TextDelta, ToolCallDelta
from bridge.testing.llm_server import Reply, Rule, ScriptedLLM, ScriptedToolCall
from bridge.testing.serve import free_port, serve_app

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

SCRIPT = ScriptedLLM(
    rules=[
        Rule("hours", Reply("We open at nine and close at five.")),
        Rule("weather", Reply(tool_calls=(ScriptedToolCall("get_weather", {"city": "Paris"}),))),
        Rule("sunny", Reply("It is sunny in Paris."), role="tool"),
    ]
)


def llm(base_url: str, timeout_s: float = 5.0) -> ChatLLM:
    return ChatLLM(base_url=f"{base_url}/v1", api_key="", model="scripted", timeout_s=timeout_s)


async def collect(engine: ChatLLM, messages: list[dict[str, object]], **kw: object) -> list[object]:
    return [event async for event in engine.stream(messages, **kw)]  # type: ignore[arg-type]


async def test_streams_text_in_pieces() -> None:
    async with serve_app(SCRIPT.app()) as url:
        engine = llm(url)
        events = await collect(engine, [{"role": "user", "content": "What are your hours?"}])
        await engine.close()
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3  # streamed, not one block
    assert "".join(deltas) == "We open at nine and close at five."
    done = events[-1]
    assert isinstance(done, Completed)
    assert done.finish_reason == "stop"
    assert done.text == "We open at nine and close at five."
    assert done.usage.output_tokens == 8


async def test_streams_a_tool_call_and_continues_with_its_result() -> None:
    async with serve_app(SCRIPT.app()) as url:
        engine = llm(url)
        messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Paris?"}]
        events = await collect(engine, messages, tools=[WEATHER_TOOL], tool_choice="auto")
        done = events[-1]
        assert isinstance(done, Completed)
        assert done.finish_reason == "tool_calls"
        (call,) = done.tool_calls
        assert call.name == "get_weather"
        assert json.loads(call.arguments) == {"city": "Paris"}
        pieces = [e for e in events if isinstance(e, ToolCallDelta)]
        assert len(pieces) > 1
        assert "".join(p.arguments for p in pieces) == call.arguments
        assert SCRIPT.requests[-1]["tools"] == [WEATHER_TOOL]

        messages += [
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": call.call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call.call_id, "content": '{"sky": "sunny"}'},
        ]
        events = await collect(engine, messages, tools=[WEATHER_TOOL])
        await engine.close()
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.text == "It is sunny in Paris."


async def test_unreachable_endpoint_is_a_clear_error() -> None:
    engine = llm(f"http://127.0.0.1:{free_port()}", timeout_s=2.0)
    started = time.monotonic()
    with pytest.raises(LLMError, match=r"127\.0\.0\.1.* is unreachable"):
        await collect(engine, [{"role": "user", "content": "hi"}])
    assert time.monotonic() - started < 2.0
    await engine.close()


async def test_endpoint_that_never_answers_times_out_with_a_clear_error() -> None:
    async with serve_app(ScriptedLLM(hang=True).app()) as url:
        engine = llm(url, timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(LLMError, match=r"did not answer within 0\.5 s"):
            await collect(engine, [{"role": "user", "content": "hi"}])
        elapsed = time.monotonic() - started
        await engine.close()
    assert 0.5 <= elapsed < 2.0


async def test_error_status_is_reported_with_the_status_code() -> None:
    async with serve_app(SCRIPT.app()) as url:
        engine = ChatLLM(base_url=f"{url}/nope", api_key="k", model="m")
        with pytest.raises(LLMError, match="answered 404"):
            await collect(engine, [{"role": "user", "content": "hi"}])
        await engine.close()
