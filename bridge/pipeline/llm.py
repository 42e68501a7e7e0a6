"""The LLM: streaming chat completions with tools through ``openai.AsyncOpenAI``.

Works against any OpenAI-compatible base URL (OpenAI, vLLM, Ollama, llama.cpp). Failures are
reported as :class:`LLMError` with a message a person can act on, within ``timeout_s``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from openai import AsyncOpenAI


class LLMError(Exception):
    pass


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call's arguments, streamed as the model writes them."""

    index: int
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Completed:
    finish_reason: str
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)


LLMEvent = TextDelta | ToolCallDelta | Completed


@dataclass
class _PartialCall:
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ChatLLM:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        timeout_s: float = 15.0,
        temperature: float = 0.7,
        max_tokens: int = 400,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.timeout_s = timeout_s
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._client = AsyncOpenAI(
            base_url=base_url,
            # Local servers need no key, but the client insists on one.
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            # A caller is waiting: a failed request is reported, not silently retried.
            max_retries=0,
        )

    async def stream(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        model: str | None = None,
    ) -> AsyncIterator[LLMEvent]:
        """Stream one completion: text and tool-call deltas, then one :class:`Completed`."""
        request: dict[str, Any] = {
            "model": model or self.model,
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": self.temperature if temperature is None else temperature,
            "max_tokens": max_tokens or self.max_tokens,
        }
        if tools:
            request["tools"] = list(tools)
            if tool_choice is not None:
                request["tool_choice"] = tool_choice
        text: list[str] = []
        calls: dict[int, _PartialCall] = {}
        finish_reason = "stop"
        usage = Usage()
        try:
            # The timeout bounds each wait for the endpoint, never the time our consumer
            # spends between chunks (a yield must not sit inside a timeout scope).
            async with asyncio.timeout(self.timeout_s):
                chunks = await self._client.chat.completions.create(**request)
            async with chunks:
                iterator = aiter(chunks)
                while True:
                    try:
                        async with asyncio.timeout(self.timeout_s):
                            chunk = await anext(iterator)
                    except StopAsyncIteration:
                        break
                    if chunk.usage is not None:
                        usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        yield TextDelta(delta.content)
                    for call in delta.tool_calls or ():
                        partial = calls.setdefault(call.index, _PartialCall())
                        if call.id:
                            partial.call_id = call.id
                        if call.function and call.function.name:
                            partial.name += call.function.name
                        piece = (call.function.arguments if call.function else None) or ""
                        partial.arguments.append(piece)
                        yield ToolCallDelta(call.index, partial.call_id, partial.name, piece)
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        except TimeoutError:
            raise LLMError(
                f"LLM endpoint {self.base_url} did not answer within {self.timeout_s:g} s"
            ) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise LLMError(f"LLM endpoint {self.base_url} is unreachable: {cause}") from exc
        except openai.APIStatusError as exc:
            raise LLMError(
                f"LLM endpoint {self.base_url} answered {exc.status_code}: {exc.message}"
            ) from exc
        except openai.OpenAIError as exc:
            raise LLMError(f"LLM request to {self.base_url} failed: {exc}") from exc
        tool_calls = tuple(
            ToolCall(p.call_id or f"call_{index}", p.name, "".join(p.arguments))
            for index, p in sorted(calls.items())
        )
        yield Completed(finish_reason, "".join(text), tool_calls, usage)

    async def probe(self, timeout_s: float = 5.0) -> tuple[bool, str]:
        """Whether the endpoint answers (``GET /models``), and a few words on what it said."""
        try:
            async with asyncio.timeout(min(timeout_s, self.timeout_s)):
                page = await self._client.models.list()
        except TimeoutError:
            return False, f"no answer within {min(timeout_s, self.timeout_s):g} s"
        except openai.APIStatusError as exc:
            # It answers; a 404 is a server without a model list, a 401 a wrong key.
            hint = " (check BRIDGE_LLM_API_KEY)" if exc.status_code in (401, 403) else ""
            return exc.status_code == 404, f"GET /models answered {exc.status_code}{hint}"
        except openai.OpenAIError as exc:
            cause = exc.__cause__ or exc
            return False, f"unreachable: {cause}"
        names = [model.id for model in page.data]
        if names and self.model not in names:
            return True, f"answers, but does not list the model {self.model!r}"
        return True, "answers"

    async def close(self) -> None:
        await self._client.close()
