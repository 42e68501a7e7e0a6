"""A realtime client for tests and demos: the real ``openai`` SDK connection, with every
received event checked against the SDK's own types for its dialect."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from openai import AsyncOpenAI

from bridge.realtime.dialect import Dialect
from bridge.testing.sdk_validation import validate_server_event


@dataclass
class RealtimeProbe:
    connection: Any  # the SDK's AsyncRealtimeConnection (beta or GA)
    dialect: Dialect
    received: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, event: dict[str, Any]) -> None:
        await self.connection.send(event)

    async def send_raw(self, frame: str | bytes) -> None:
        """A frame exactly as given (the SDK's ``send`` would JSON-encode a string again)."""
        send_raw = getattr(self.connection, "send_raw", None)
        if send_raw is not None:  # GA connection
            await send_raw(frame)
        else:  # beta connection: its websocket is exposed as ``_connection``
            await self.connection._connection.send(frame)

    async def next_event(self, timeout_s: float = 30.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            raw = await self.connection.recv_bytes()
        event: dict[str, Any] = json.loads(raw)
        validate_server_event(event, self.dialect)
        self.received.append(event)
        return event

    async def until(self, *types: str, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        """Events up to and including the first one whose type is in ``types``."""
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout_s):
            while True:
                event = await self.next_event(timeout_s)
                seen.append(event)
                if event["type"] in types:
                    return seen

    async def send_audio(
        self, audio: bytes, *, chunk_ms: int = 20, bytes_per_ms: int = 48, real_time: bool = True
    ) -> None:
        """Append audio in chunks, paced like a microphone (absolute deadlines, no drift)."""
        loop = asyncio.get_running_loop()
        step = chunk_ms * bytes_per_ms
        started = loop.time()
        for index, start in enumerate(range(0, len(audio), step)):
            chunk = base64.b64encode(audio[start : start + step]).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": chunk})
            if real_time:
                delay = started + (index + 1) * chunk_ms / 1000 - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)


def audio_of(events: list[dict[str, Any]]) -> bytes:
    """The audio bytes of every audio delta, in either dialect."""
    return b"".join(
        base64.b64decode(e["delta"])
        for e in events
        if e["type"] in ("response.audio.delta", "response.output_audio.delta")
    )


@contextlib.asynccontextmanager
async def connect(
    ws_base_url: str,
    dialect: Dialect,
    *,
    api_key: str = "test-key",
    model: str = "gpt-realtime",
    extra_query: dict[str, str] | None = None,
) -> AsyncIterator[RealtimeProbe]:
    client = AsyncOpenAI(api_key=api_key, websocket_base_url=ws_base_url)
    realtime = client.beta.realtime if dialect is Dialect.BETA else client.realtime
    async with realtime.connect(model=model, extra_query=extra_query or {}) as connection:
        yield RealtimeProbe(connection, dialect)
    await client.close()
