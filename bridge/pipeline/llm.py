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
from openai.types import CompletionUsage
from openai.types.chat.chat_completion_chunk import (
    ChatCompletionChunk,
    Choice,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)

MAX_TOOL_CALLS = 64  # tool calls in one reply; a higher index is a malformed stream


class LLMError(Exception):
    pass


class MalformedChunk(LLMError):
    """The endpoint sent an event that is not a chat completion chunk of the usual shape."""


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
        reader = ChunkReader()
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
                    except (ValueError, RecursionError) as exc:  # an event that is not JSON
                        raise MalformedChunk(f"an event is not JSON: {exc!s:.200}") from None
                    for event in reader.feed(chunk):
                        yield event
        except MalformedChunk as exc:
            raise LLMError(f"LLM endpoint {self.base_url} sent a malformed stream: {exc}") from None
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
        yield reader.completed()

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


def _optional(value: object, kind: type[Any], what: str) -> Any:
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise MalformedChunk(f"{what} is {type(value).__name__}, not {kind.__name__}")
    return value


class ChunkReader:
    """Streamed chat completion chunks (as the openai client builds them, unvalidated) into
    :data:`LLMEvent` s. Anything not of the documented shape raises :class:`MalformedChunk`
    (an :class:`LLMError`): the response fails and a call speaks its fallback."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._calls: dict[int, _PartialCall] = {}
        self._finish_reason = "stop"
        self._usage = Usage()

    def feed(self, chunk: object) -> list[LLMEvent]:
        if not isinstance(chunk, ChatCompletionChunk):
            raise MalformedChunk(f"a chunk is {type(chunk).__name__}, not an object")
        usage = chunk.usage
        if usage is not None:
            if not isinstance(usage, CompletionUsage):
                raise MalformedChunk("usage is not an object")
            self._usage = Usage(
                _optional(usage.prompt_tokens, int, "usage.prompt_tokens") or 0,
                _optional(usage.completion_tokens, int, "usage.completion_tokens") or 0,
            )
        choices = _optional(chunk.choices, list, "choices")
        if not choices:
            return []
        choice = choices[0]
        if not isinstance(choice, Choice) or not isinstance(choice.delta, ChoiceDelta):
            raise MalformedChunk("choices[0] is not an object with a delta object")
        events: list[LLMEvent] = []
        delta = choice.delta
        content = _optional(delta.content, str, "delta.content")
        if content:
            self._text.append(content)
            events.append(TextDelta(content))
        for call in _optional(delta.tool_calls, list, "delta.tool_calls") or ():
            events.append(self._call_delta(call))
        finish_reason = _optional(choice.finish_reason, str, "finish_reason")
        if finish_reason:
            self._finish_reason = finish_reason
        return events

    def _call_delta(self, call: object) -> ToolCallDelta:
        if not isinstance(call, ChoiceDeltaToolCall):
            raise MalformedChunk("a tool call is not an object")
        index = _optional(call.index, int, "tool_calls[].index")
        if index is None or not 0 <= index < MAX_TOOL_CALLS:
            raise MalformedChunk(f"tool call index {index!r} is not 0 to {MAX_TOOL_CALLS - 1}")
        function = call.function
        if function is not None and not isinstance(function, ChoiceDeltaToolCallFunction):
            raise MalformedChunk("tool_calls[].function is not an object")
        partial = self._calls.setdefault(index, _PartialCall())
        call_id = _optional(call.id, str, "tool_calls[].id")
        if call_id:
            partial.call_id = call_id
        name = _optional(function.name, str, "function.name") if function else None
        if name:
            partial.name += name
        piece = (
            _optional(function.arguments, str, "function.arguments") if function else None
        ) or ""
        partial.arguments.append(piece)
        return ToolCallDelta(index, partial.call_id, partial.name, piece)

    def completed(self) -> Completed:
        tool_calls = tuple(
            ToolCall(p.call_id or f"call_{index}", p.name, "".join(p.arguments))
            for index, p in sorted(self._calls.items())
        )
        return Completed(self._finish_reason, "".join(self._text), tool_calls, self._usage)
