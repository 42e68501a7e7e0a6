"""A scripted OpenAI-compatible chat-completions server.

Tests and ``bridge bench`` point the real ``openai`` client at it: it streams replies chosen by
rules over the conversation, including tool calls, exactly as a real endpoint frames them.

Run on its own, it serves the bridge's canned replies (``bridge.pipeline.canned_llm``) as an
endpoint: ``python -m bridge.testing.llm_server --port 8081``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass(frozen=True)
class ScriptedToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    text: str = ""
    tool_calls: tuple[ScriptedToolCall, ...] = ()


@dataclass(frozen=True)
class Rule:
    """Answer ``reply`` when the last message (user text, or a tool result) matches."""

    pattern: str
    reply: Reply | Callable[[list[dict[str, Any]]], Reply]
    role: str = "user"

    def matches(self, message: dict[str, Any]) -> bool:
        content = message.get("content")
        if isinstance(content, list):  # content parts
            content = " ".join(str(part.get("text", "")) for part in content)
        return message.get("role") == self.role and bool(
            re.search(self.pattern, str(content or ""), re.IGNORECASE)
        )


@dataclass
class ScriptedLLM:
    rules: Sequence[Rule] = ()
    default: Reply = Reply("I am a test assistant.")
    chunk_delay_s: float = 0.0
    hang: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)

    def reply_for(self, messages: list[dict[str, Any]]) -> Reply:
        last = messages[-1] if messages else {}
        for rule in self.rules:
            if rule.matches(last):
                return rule.reply(messages) if callable(rule.reply) else rule.reply
        return self.default

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._completions, methods=["POST"]),
                Route("/v1/models", self._models),
            ]
        )

    async def _models(self, request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        if self.hang:
            # Never answer (for timeout tests); return once the client gives up and hangs up.
            while (await request.receive())["type"] != "http.disconnect":
                pass
            return Response(status_code=499)
        reply = self.reply_for(body.get("messages", []))
        if not body.get("stream"):
            return JSONResponse(_full_completion(body.get("model", ""), reply))
        return StreamingResponse(
            self._stream(body.get("model", ""), reply), media_type="text/event-stream"
        )

    async def _stream(self, model: str, reply: Reply) -> AsyncIterator[str]:
        for chunk in _chunks(model, reply):
            if self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"


def _envelope(model: str, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        **extra,
    }


def _chunks(model: str, reply: Reply) -> list[dict[str, Any]]:
    chunks = [_envelope(model, [{"index": 0, "delta": {"role": "assistant"}}])]
    # Word-sized pieces, as real endpoints stream tokens.
    for word in re.findall(r"\S+\s*", reply.text):
        chunks.append(_envelope(model, [{"index": 0, "delta": {"content": word}}]))
    for index, call in enumerate(reply.tool_calls):
        arguments = json.dumps(call.arguments)
        head = {
            "index": index,
            "id": f"call_scripted_{index}",
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        chunks.append(_envelope(model, [{"index": 0, "delta": {"tool_calls": [head]}}]))
        for start in range(0, len(arguments), 8):
            piece = {"index": index, "function": {"arguments": arguments[start : start + 8]}}
            chunks.append(_envelope(model, [{"index": 0, "delta": {"tool_calls": [piece]}}]))
    finish = "tool_calls" if reply.tool_calls else "stop"
    chunks.append(_envelope(model, [{"index": 0, "delta": {}, "finish_reason": finish}]))
    words = len(reply.text.split())
    usage = {"prompt_tokens": 10, "completion_tokens": words, "total_tokens": 10 + words}
    chunks.append(_envelope(model, [], usage=usage))
    return chunks


def _full_completion(model: str, reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_scripted_{i}",
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for i, c in enumerate(reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def canned_llm() -> ScriptedLLM:
    """The bridge's canned replies (``BRIDGE_LLM_BACKEND=canned``) as scripted rules."""
    from bridge.pipeline.canned_llm import CANNED_DEFAULT, CANNED_REPLIES

    rules = [Rule(pattern, Reply(text)) for pattern, text in CANNED_REPLIES]
    return ScriptedLLM(rules=rules, default=Reply(CANNED_DEFAULT))


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m bridge.testing.llm_server",
        description="Serve canned replies as an OpenAI-compatible chat-completions endpoint "
        "(for tests and trying things out: not a language model).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8081, help="listen port (default: %(default)s)")
    args = parser.parse_args(argv)
    # Bound before the banner: a client that reads it can connect at once.
    sock = socket.create_server((args.host, args.port))
    url = f"http://{args.host}:{sock.getsockname()[1]}/v1"
    print(
        f"canned replies (not a language model) at {url}; "
        f"try: OPENAI_BASE_URL={url} BRIDGE_DEFAULT_DIALPLAN=agent make run",
        flush=True,
    )
    config = uvicorn.Config(canned_llm().app(), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
