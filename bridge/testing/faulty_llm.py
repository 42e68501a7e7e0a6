"""An OpenAI-compatible LLM that misbehaves on purpose, for fault-injection tests.

Requests whose last message mentions ``trigger`` get the fault; every other request gets an
ordinary streamed reply (``reply``), so a control call on the same endpoint, through the same
client and connection pool, keeps working while another call's request fails.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bridge.testing.llm_server import Reply, _chunks, _envelope

Fault = Literal[
    "http_500",  # an error status with an OpenAI error body
    "http_429",  # rate limited
    "hang",  # never answers (until the client gives up)
    "stall",  # one chunk, then nothing (until the client gives up)
    "malformed_sse",  # an event that is not JSON
    "wrong_shape",  # JSON of the wrong shape (choices a string, delta a list)
    "drop",  # the connection drops mid-stream
    "trickle",  # a chunk every ``trickle_s`` (slower than a person reads, faster than the timeout)
    "no_done",  # the stream ends without [DONE] or a finish reason
]


class Dropped(Exception):
    """Raised inside the stream: the server aborts the connection mid-response."""


@dataclass
class FaultyLLM:
    fault: Fault
    trigger: str = "fault"
    reply: str = "Here is a perfectly ordinary answer to your question."
    trickle_s: float = 0.15
    requests: list[str] = field(default_factory=list)  # the last message of each request

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])

    async def _complete(self, request: Request) -> Response:
        body = await request.json()
        messages = body.get("messages") or [{}]
        last = str(messages[-1].get("content") or "")
        self.requests.append(last)
        model = body.get("model", "")
        if self.trigger not in last.lower():
            return _sse(self._good(model))
        if self.fault in ("http_500", "http_429"):
            status = int(self.fault[-3:])
            error = {"error": {"message": "injected fault", "type": "server_error"}}
            return JSONResponse(error, status_code=status)
        if self.fault == "hang":
            while (await request.receive())["type"] != "http.disconnect":
                pass
            return Response(status_code=499)
        return _sse(self._faulty(model))

    async def _good(self, model: str) -> AsyncIterator[str]:
        for chunk in _chunks(model, Reply(self.reply)):
            yield _event(chunk)
        yield "data: [DONE]\n\n"

    async def _faulty(self, model: str) -> AsyncIterator[str]:
        first = _envelope(
            model, [{"index": 0, "delta": {"role": "assistant", "content": "Well, "}}]
        )
        if self.fault == "trickle":
            for word in re.findall(r"\S+\s*", self.reply):
                await asyncio.sleep(self.trickle_s)
                yield _event(_envelope(model, [{"index": 0, "delta": {"content": word}}]))
            yield _event(_envelope(model, [{"index": 0, "delta": {}, "finish_reason": "stop"}]))
            yield "data: [DONE]\n\n"
            return
        yield _event(first)
        if self.fault == "stall":
            await asyncio.Event().wait()  # cancelled when the client disconnects
        elif self.fault == "malformed_sse":
            yield 'data: {"choices": [{"delta": {"content": "unterminated\n\n'
        elif self.fault == "wrong_shape":
            yield _event({"id": "x", "object": "chat.completion.chunk", "choices": "nope"})
            yield _event({"choices": [{"index": 0, "delta": ["not", "an", "object"]}]})
        elif self.fault == "drop":
            raise Dropped("injected: the connection drops mid-stream")
        elif self.fault == "no_done":
            yield _event(_envelope(model, [{"index": 0, "delta": {"content": "and then"}}]))
            return
        yield "data: [DONE]\n\n"


def _event(chunk: dict[str, Any]) -> str:
    return f"data: {json.dumps(chunk)}\n\n"


def _sse(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream")
