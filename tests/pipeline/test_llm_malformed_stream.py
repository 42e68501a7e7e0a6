"""A stream the LLM endpoint garbles is an LLMError (the response fails and a call speaks its
fallback), never another exception that leaves the caller in silence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from bridge.pipeline.llm import ChatLLM, LLMError
from bridge.testing.serve import serve_app

GOOD = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m"}


def chunk(**fields: Any) -> str:
    return "data: " + json.dumps(GOOD | fields) + "\n\n"


HELLO = chunk(choices=[{"index": 0, "delta": {"content": "Hello"}}])
DONE = "data: [DONE]\n\n"


def sse_app(body: str) -> Starlette:
    async def completions(request: Request) -> StreamingResponse:
        async def stream() -> Any:
            yield body

        return StreamingResponse(stream(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


async def run(body: str) -> list[object]:
    async with serve_app(sse_app(body)) as url:
        engine = ChatLLM(base_url=f"{url}/v1", api_key="", model="m", timeout_s=5)
        try:
            return [e async for e in engine.stream([{"role": "user", "content": "hi"}])]
        finally:
            await engine.close()


BROKEN = {
    "not json": HELLO + "data: {not json\n\n" + DONE,
    "nested too deep": HELLO + "data: " + "[" * 5000 + "\n\n" + DONE,
    "a chunk that is a list": "data: [1, 2]\n\n" + DONE,
    "a chunk that is null": "data: null\n\n" + DONE,
    "choices a string": chunk(choices="abc") + DONE,
    "choice a string": chunk(choices=["abc"]) + DONE,
    "delta a string": chunk(choices=[{"index": 0, "delta": "x"}]) + DONE,
    "delta null": chunk(choices=[{"index": 0, "delta": None}]) + DONE,
    "content a number": chunk(choices=[{"index": 0, "delta": {"content": 5}}]) + DONE,
    "tool_calls an object": chunk(choices=[{"index": 0, "delta": {"tool_calls": {"a": 1}}}]) + DONE,
    "tool call index a string": chunk(
        choices=[{"index": 0, "delta": {"tool_calls": [{"index": "a", "id": "c"}]}}]
    )
    + DONE,
    "tool call index missing": chunk(
        choices=[{"index": 0, "delta": {"tool_calls": [{"id": "c", "function": {"name": "f"}}]}}]
    )
    + DONE,
    "tool call name a number": chunk(
        choices=[{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": 3}}]}}]
    )
    + DONE,
    "tool call index huge": chunk(
        choices=[{"index": 0, "delta": {"tool_calls": [{"index": 10**9, "id": "c"}]}}]
    )
    + DONE,
    "usage tokens a string": chunk(
        choices=[], usage={"prompt_tokens": "a", "completion_tokens": 1, "total_tokens": 1}
    )
    + DONE,
    "finish_reason a number": chunk(choices=[{"index": 0, "delta": {}, "finish_reason": 7}]) + DONE,
}


@pytest.mark.parametrize("body", list(BROKEN.values()), ids=list(BROKEN))
async def test_a_garbled_stream_is_an_llm_error(body: str) -> None:
    with pytest.raises(LLMError, match="malformed"):
        await run(body)


async def test_a_well_formed_stream_still_streams() -> None:
    events = await run(
        HELLO + chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]) + DONE
    )
    assert len(events) == 2


async def test_a_garbled_stream_fails_the_response_instead_of_killing_it() -> None:
    # The engine turns an LLMError into a failed response (a call then speaks its fallback);
    # any other exception used to end the response task with no response.done at all.
    from bridge.config import Settings
    from bridge.engine import commands as cmd
    from bridge.engine import events as ev
    from bridge.engine.config import SessionConfig
    from bridge.engine.items import InputTextPart, MessageItem
    from bridge.engine.response import ResponseParams
    from bridge.engine.session import LocalConversation
    from bridge.pipeline.engines import Engines
    from bridge.testing.fakes import Fakes, until

    events: list[ev.EngineEvent] = []
    async with serve_app(sse_app(BROKEN["not json"])) as url:
        fakes = Fakes()
        chat = ChatLLM(base_url=f"{url}/v1", api_key="", model="m", timeout_s=5)
        engines = Engines(vad=fakes.vad, stt=fakes.stt, tts=fakes.tts, llm=chat)
        session = LocalConversation(
            engines=engines,
            settings=Settings().conversation,
            emit=events.append,
            config=SessionConfig(),
        )
        session.start()
        try:
            item = MessageItem("user", [InputTextPart("hi")])
            await session.handle(cmd.CreateItem(item, None))
            await session.handle(cmd.CreateResponse(ResponseParams()))
            await until(lambda: any(isinstance(e, ev.ResponseDone) for e in events))
        finally:
            await session.close()
            await chat.close()
    (done,) = [e for e in events if isinstance(e, ev.ResponseDone)]
    assert done.response.status == "failed"
    assert any(isinstance(e, ev.ErrorEvent) and "malformed" in e.message for e in events)
