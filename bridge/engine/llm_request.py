"""What one response asks of the LLM, built from the session, the response and its input.

Two equal requests get the same reply, which is what lets a prefetched reply
(:mod:`bridge.engine.prefetch`) be adopted by the response that would have asked the same.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from bridge import observe
from bridge.engine.config import FunctionChoice, FunctionTool, SessionConfig, ToolChoice
from bridge.engine.history import to_chat_messages
from bridge.engine.items import Item
from bridge.engine.response import Response, ResponseParams
from bridge.pipeline.llm import ChatLLM, Completed, LLMEvent, TextDelta, ToolCallDelta


@dataclass
class LLMRequest:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tool_choice: Any
    temperature: float
    max_tokens: int | None
    model: str | None = None
    script: str | None = None  # speak this text instead of asking the LLM (greetings, prompts)


def build_request(
    config: SessionConfig,
    items: list[Item],
    params: ResponseParams,
    response: Response,
    *,
    default_instructions: str,
    model: str | None,
    script: str | None = None,
) -> LLMRequest:
    """The request for ``response``: ``params`` override the session for this one response."""
    instructions = params.instructions if params.instructions is not None else config.instructions
    tools = params.tools if params.tools is not None else config.tools
    choice = params.tool_choice if params.tool_choice is not None else config.tool_choice
    limit = response.max_output_tokens
    return LLMRequest(
        messages=to_chat_messages(items, instructions or default_instructions),
        tools=chat_tools(tools),
        tool_choice=_chat_tool_choice(choice) if tools else None,
        temperature=response.temperature,
        max_tokens=None if limit == "inf" else limit,
        model=model,
        script=script,
    )


async def llm_events(llm: ChatLLM, request: LLMRequest) -> AsyncIterator[LLMEvent]:
    """The LLM's stream for ``request``, its first token (or tool call) timed from the
    request (prefetched replies included: the time is the model's, whoever waits for it),
    traced as one ``llm`` span with the GenAI semantic conventions' attributes."""
    asked = time.monotonic()
    span = observe.start_span("llm", **_gen_ai(llm, request))
    error: BaseException | None = None
    timed = False
    stream = llm.stream(
        request.messages,
        tools=request.tools or None,
        tool_choice=request.tool_choice,
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        model=request.model,
    )
    try:
        async for event in stream:
            if not timed and isinstance(event, TextDelta | ToolCallDelta):
                timed = True
                observe.timing("llm_first_token", time.monotonic() - asked)
            elif isinstance(event, Completed):
                span.set(**_gen_ai_usage(event))
            yield event
    except BaseException as exc:
        error = exc
        raise
    finally:
        span.end(error)
        close = getattr(stream, "aclose", None)
        if close is not None:  # a reply cut short closes the LLM's stream at once
            await close()


def _gen_ai(llm: ChatLLM, request: LLMRequest) -> dict[str, observe.Attribute]:
    attributes: dict[str, observe.Attribute] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": request.model or getattr(llm, "model", "") or "unknown",
        "gen_ai.request.temperature": request.temperature,
    }
    if request.max_tokens is not None:
        attributes["gen_ai.request.max_tokens"] = request.max_tokens
    return attributes


def _gen_ai_usage(done: Completed) -> dict[str, observe.Attribute]:
    attributes: dict[str, observe.Attribute] = {
        "gen_ai.response.finish_reasons": [done.finish_reason]
    }
    if done.usage.input_tokens or done.usage.output_tokens:  # 0 and 0: the server did not say
        attributes["gen_ai.usage.input_tokens"] = done.usage.input_tokens
        attributes["gen_ai.usage.output_tokens"] = done.usage.output_tokens
    return attributes


def chat_tools(tools: Sequence[FunctionTool]) -> list[dict[str, Any]]:
    """Realtime function tools in chat-completions form."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters or {"type": "object", "properties": {}},
            },
        }
        for tool in tools
    ]


def _chat_tool_choice(choice: ToolChoice) -> Any:
    if isinstance(choice, FunctionChoice):
        return {"type": "function", "function": {"name": choice.name}}
    return choice
