"""The conversation engine on fake engines: a session, its events in a list, a fake listener.

Everything the engine tests import from the engine comes through here, so a move of the
engine's modules changes this file only. (Not a ``conftest.py``: other test folders import
the root one as ``conftest``, which a second ``conftest`` module would shadow.)
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any, Protocol, TypeVar

from bridge.config import Settings
from bridge.realtime import client_events as ce
from bridge.realtime import events as ev
from bridge.realtime.dialect import Dialect
from bridge.realtime.errors import RealtimeProtocolError
from bridge.realtime.items import (
    AudioPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputTextPart,
    MessageItem,
)
from bridge.realtime.responder import AssistantAudio
from bridge.realtime.response import ResponseParams
from bridge.realtime.session import RealtimeSession
from bridge.realtime.session_config import (
    PCMU,
    FunctionTool,
    InputTranscription,
    ServerVad,
    SessionConfig,
)
from bridge.testing.fakes import Fakes, until

__all__ = [
    "PCMU",
    "AudioPart",
    "Driver",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "FunctionTool",
    "InputTextPart",
    "MessageItem",
    "RealtimeProtocolError",
    "ResponseParams",
    "ServerVad",
    "SessionConfig",
    "Start",
    "ce",
    "config",
    "drivers",
    "ev",
]

E = TypeVar("E", bound=ev.ServerEvent)

# What a call's session has, with transcription reported so a test can see the transcript.
CONFIG = dataclasses.replace(SessionConfig(), input_transcription=InputTranscription("whisper-1"))


class Listener:
    """The far end's playout position, set by the test: ``heard_ms`` of each reply has
    played (None: all that was sent)."""

    def __init__(self) -> None:
        self.heard_ms: float | None = None

    def __call__(self, audio: AssistantAudio) -> float:
        return audio.sent_ms if self.heard_ms is None else min(self.heard_ms, audio.sent_ms)


class Driver:
    """A started :class:`RealtimeSession` on fakes, with every event it emitted, in order."""

    def __init__(self, fakes: Fakes, config: SessionConfig, settings: Settings) -> None:
        self.fakes = fakes
        self.events: list[ev.ServerEvent] = []
        self.listener = Listener()
        self.session = RealtimeSession(
            engines=fakes.engines(),
            settings=settings,
            dialect=Dialect.GA,
            emit=self._emit,
            config=config,
            played_ms=self.listener,
        )

    def _emit(self, event: ev.ServerEvent) -> None:
        ev.render_event(event, Dialect.GA)  # every event must render for a client
        self.events.append(event)

    async def send(self, event: ce.ClientEvent) -> None:
        await self.session.handle(event)

    async def feed(self, audio: bytes, chunk_ms: int = 20) -> None:
        """Append wire audio in ``chunk_ms`` pieces, as a caller's media stream would."""
        fmt = self.session.config.input_audio_format
        chunk = fmt.sample_rate * fmt.bytes_per_sample * chunk_ms // 1000
        for offset in range(0, len(audio), chunk):
            await self.send(ce.InputAudioBufferAppend(None, audio[offset : offset + chunk]))

    async def say_user(self, text: str) -> None:
        """The user's words as a text item, then ``response.create``."""
        await self.send(ce.ConversationItemCreate(None, MessageItem("user", [InputTextPart(text)])))
        await self.send(ce.ResponseCreate(None, ResponseParams()))

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]

    async def wait_for(self, kind: type[E], count: int = 1) -> E:
        """The ``count``-th event of ``kind``, once it has been emitted."""
        await until(lambda: len(self.of(kind)) >= count)
        return self.of(kind)[count - 1]

    def audio_bytes(self, response_id: str | None = None) -> bytes:
        """The assistant audio sent so far (of one response, when given)."""
        return b"".join(
            d.audio
            for d in self.of(ev.ResponseAudioDelta)
            if response_id is None or d.response_id == response_id
        )

    def kinds(
        self, *wanted: type[ev.ServerEvent], since: ev.ServerEvent | None = None
    ) -> list[type[ev.ServerEvent]]:
        """The kinds of event emitted (from ``since`` on, when given), in order, keeping only
        ``wanted`` ones (all if none), with runs of one kind (audio deltas) shown once."""
        start = 0 if since is None else self.events.index(since)
        kinds: list[type[ev.ServerEvent]] = []
        for event in self.events[start:]:
            kind = type(event)
            if (not wanted or kind in wanted) and (not kinds or kinds[-1] is not kind):
                kinds.append(kind)
        return kinds


class Start(Protocol):
    def __call__(
        self, config: SessionConfig | None = None, settings: Settings | None = None
    ) -> Driver: ...


@contextlib.asynccontextmanager
async def drivers(fakes: Fakes) -> AsyncIterator[Start]:
    """``start(config, settings)`` -> a started :class:`Driver` on ``fakes``; every session
    started is closed on leaving (a test module's ``start`` fixture wraps this)."""
    started: list[Driver] = []

    def start(config: SessionConfig | None = None, settings: Settings | None = None) -> Driver:
        driver = Driver(fakes, config or CONFIG, settings or Settings())
        driver.session.start()
        started.append(driver)
        return driver

    try:
        yield start
    finally:
        for driver in started:
            await driver.session.close()


def config(**changes: Any) -> SessionConfig:
    """The test session config (:data:`CONFIG`) with ``changes``."""
    return dataclasses.replace(CONFIG, **changes)
