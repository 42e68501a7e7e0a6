"""Canned replies instead of a language model, for trying the bridge offline.

``BRIDGE_LLM_BACKEND=canned`` answers every request from a short list of phrases matched on
what the caller said last, streamed word by word like a real endpoint. It needs no server, no
key and no download; it is a demo, and says so when it does not recognise a question.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from bridge.pipeline.llm import ChatLLM, Completed, LLMEvent, TextDelta, Usage

CANNED_MODEL = "canned"

# (pattern over the caller's last words, reply); the first match answers.
CANNED_REPLIES: tuple[tuple[str, str], ...] = (
    (
        r"\b(hours|open|opening|close|closing)\b",
        "We are open from nine in the morning until five in the evening, Monday to Friday.",
    ),
    (r"\b(bye|goodbye|that's all|thank you|thanks)\b", "You're welcome. Goodbye!"),
    (
        r"\b(who are you|what are you|your name|canned|real)\b",
        "I am the bridge's offline demo agent. My replies are canned: no language model "
        "is connected.",
    ),
    (
        r"\b(help|what can you do)\b",
        "This is a canned demo reply. Ask me about opening hours, or say goodbye. Connect a "
        "language model for real answers.",
    ),
    (r"\b(hello|hi|hey)\b", "Hello! You are talking to the offline demo agent."),
)
CANNED_DEFAULT = (
    "This is a canned reply: no language model is connected, so I can only answer a few "
    "questions, such as our opening hours."
)


def canned_reply(messages: Sequence[dict[str, Any]]) -> str:
    """The reply to a conversation: matched on the last user message's text."""
    users = [m for m in messages if m.get("role") == "user"]
    content = users[-1].get("content", "") if users else ""
    if isinstance(content, list):  # content parts
        content = " ".join(str(part.get("text", "")) for part in content)
    for pattern, reply in CANNED_REPLIES:
        if re.search(pattern, str(content or ""), re.IGNORECASE):
            return reply
    return CANNED_DEFAULT


class CannedLLM(ChatLLM):
    """A :class:`ChatLLM` that streams :func:`canned_reply` (no endpoint, no tool calls)."""

    def __init__(self, *, max_tokens: int = 400) -> None:
        # No super().__init__(): there is no endpoint to connect to.
        self.base_url = "canned://replies"
        self.model = CANNED_MODEL
        self.timeout_s = 1.0
        self.temperature = 0.0
        self.max_tokens = max_tokens

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
        text = canned_reply(messages)
        words = re.findall(r"\S+\s*", text)
        for word in words:
            await asyncio.sleep(0)  # streamed, as an endpoint would: other tasks run between
            yield TextDelta(word)
        yield Completed("stop", text, usage=Usage(output_tokens=len(words)))

    async def close(self) -> None:
        pass
