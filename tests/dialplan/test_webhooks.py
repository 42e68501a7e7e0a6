"""Dialplan webhooks against a hostile server on loopback: a reply nested too deep or too
large is a :class:`WebhookError` (the node's ``on_error`` branch, a ``failed`` agent tool),
never a ``RecursionError`` out of the call flow, and the next webhook call still works."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from bridge.dialplan.agent_tools import agent_tools
from bridge.dialplan.schema import Agent
from bridge.dialplan.webhooks import MAX_REPLY_BYTES, WebhookError, call_webhook
from bridge.testing.serve import serve_app

DEEP = "[" * 5000  # json.loads raises RecursionError on this (not ValueError)


def _json(text: str) -> Response:
    return Response(text, media_type="application/json")


async def _endless(_: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4 * MAX_REPLY_BYTES // 65536):  # bounded: 4x the limit, no length
            yield b" " * 65536

    return StreamingResponse(chunks(), media_type="application/json")


async def _ok(request: Request) -> JSONResponse:
    body = await request.json() if request.method == "POST" else {}
    return JSONResponse({"account": {"balance": 42}, "echo": body})


ROUTES = {
    "/deep": lambda _: _json(DEEP),
    "/deep-valid": lambda _: _json("[" * 65 + "]" * 65),  # parses, but past the limit
    "/deep-in-object": lambda _: _json('{"a": ' + DEEP),
    "/declared-huge": lambda _: _json(" " * (MAX_REPLY_BYTES + 1)),
    "/text": lambda _: PlainTextResponse("fine, thanks"),
}


@pytest.fixture
async def hostile() -> AsyncIterator[str]:
    async def handle(request: Request) -> Response:
        return ROUTES[request.url.path](request)  # type: ignore[no-any-return]

    routes = [Route(path, handle, methods=["GET", "POST"]) for path in ROUTES]
    routes += [
        Route("/endless", _endless, methods=["GET", "POST"]),
        Route("/ok", _ok, methods=["GET", "POST"]),
    ]
    async with serve_app(Starlette(routes=routes)) as url:
        yield url


@pytest.mark.parametrize("path", ["/deep", "/deep-valid", "/deep-in-object"])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_deeply_nested_reply_is_a_webhook_error_and_the_next_call_works(
    hostile: str, path: str, method: str
) -> None:
    with pytest.raises(WebhookError, match="nested more than 64 levels"):
        await call_webhook(hostile + path, method, {}, {"pin": "1234"}, 5.0)
    reply = await call_webhook(hostile + "/ok", method, {}, {"pin": "1234"}, 5.0)
    assert reply["account"] == {"balance": 42}


async def test_the_depth_limit_is_the_setting_passed_in(hostile: str) -> None:
    reply = await call_webhook(hostile + "/deep-valid", "GET", {}, None, 5.0, max_depth=100)
    assert isinstance(reply, list)


@pytest.mark.parametrize("path", ["/declared-huge", "/endless"])
async def test_a_reply_over_the_size_limit_is_refused(hostile: str, path: str) -> None:
    with pytest.raises(WebhookError, match=f"{MAX_REPLY_BYTES}( bytes)? allowed"):
        await call_webhook(hostile + path, "POST", {}, {}, 5.0)


async def test_a_text_reply_is_still_the_text(hostile: str) -> None:
    assert await call_webhook(hostile + "/text", "GET", {}, None, 5.0) == "fine, thanks"


async def test_an_agent_webhook_tool_with_a_hostile_reply_answers_failed(hostile: str) -> None:
    node = Agent.model_validate(
        {
            "type": "agent",
            "exits": ["done"],
            "tools": [
                {"name": "deep", "url": hostile + "/deep"},
                {"name": "ok", "url": hostile + "/ok"},
            ],
        }
    )
    tools = agent_tools(node, {}, lambda _: None, max_depth=64)
    failed = await tools["deep"][1]({"q": 1})
    assert failed["status"] == "failed"
    assert "nested more than 64 levels" in failed["error"]
    answered: dict[str, Any] = await tools["ok"][1]({"q": 1})
    assert answered["echo"] == {"q": 1}
