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

from bridge.audio.format import PCMU
from bridge.config import Settings
from bridge.engine import events as ev
from bridge.engine.config import (
    FunctionTool,
    InputTranscription,
    SemanticVad,
    ServerVad,
    SessionConfig,
)
from bridge.engine.errors import CommandError
from bridge.engine.items import (
    AudioPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputTextPart,
    MessageItem,
)
from bridge.engine.responder import AssistantAudio
from bridge.engine.response import ResponseParams
from bridge.engine.session import LocalConversation
from bridge.realtime import client_events as ce
from bridge.realtime.dialect import Dialect
from bridge.realtime.events import render_event
from bridge.realtime.server import ServerConnection
from bridge.testing.fakes import Fakes, until

__all__ = [
    "PCMU",
    "AudioPart",
    "CommandError",
    "Driver",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "FunctionTool",
    "InputTextPart",
    "MessageItem",
    "ResponseParams",
    "ResumableListener",
    "SemanticVad",
    "ServerVad",
    "SessionConfig",
    "Start",
    "ce",
    "config",
    "drivers",
    "ev",
]

E = TypeVar("E", bound=ev.EngineEvent)

# What a call's session has, with transcription reported so a test can see the transcript.
CONFIG = dataclasses.replace(SessionConfig(), input_transcription=InputTranscription("whisper-1"))


class Listener:
    """The far end, as the engine's Listener: ``heard`` ms of each reply has played (None:
    all that was sent), set by the test; ``clears`` counts the engine's "stop playing now"."""

    def __init__(self) -> None:
        self.heard: float | None = None
        self.clears = 0

    def heard_ms(self, audio: AssistantAudio) -> float:
        return audio.sent_ms if self.heard is None else min(self.heard, audio.sent_ms)

    async def throttle(self, audio: AssistantAudio) -> None:
        return None

    def clear(self) -> None:
        self.clears += 1


class ResumableListener(Listener):
    """A listener that can play on after a clear (as a phone call can): ``resumed`` holds the
    audio each resume replayed, and whether the reply was complete."""

    def __init__(self) -> None:
        super().__init__()
        self.resumed: list[tuple[bytes, bool]] = []

    def resume(self, audio: bytes, *, done: bool) -> None:
        self.resumed.append((audio, done))


class Driver:
    """A started :class:`LocalConversation` on fakes, with every event it emitted, in order."""

    def __init__(
        self,
        fakes: Fakes,
        config: SessionConfig,
        settings: Settings,
        listener: Listener | None = None,
    ) -> None:
        self.fakes = fakes
        self.events: list[ev.EngineEvent] = []
        self.listener = listener or Listener()
        self.session = LocalConversation(
            engines=fakes.engines(),
            settings=settings.conversation,
            emit=self._emit,
            config=config,
            listener=self.listener,
        )
        # Client events reach the engine as the realtime wire layer hands them over.
        self.wire = ServerConnection(Dialect.GA, lambda event: None, max_message_bytes=1 << 20)

    def _emit(self, event: ev.EngineEvent) -> None:
        render_event(event, Dialect.GA)  # every event must render for a client
        self.events.append(event)

    async def send(self, event: ce.ClientEvent) -> None:
        try:
            await self.session.handle(self.wire.command_for(event, self.session))
        except CommandError as error:
            raise error.with_event_id(event.event_id) from None

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
        self, *wanted: type[ev.EngineEvent], since: ev.EngineEvent | None = None
    ) -> list[type[ev.EngineEvent]]:
        """The kinds of event emitted (from ``since`` on, when given), in order, keeping only
        ``wanted`` ones (all if none), with runs of one kind (audio deltas) shown once."""
        start = 0 if since is None else self.events.index(since)
        kinds: list[type[ev.EngineEvent]] = []
        for event in self.events[start:]:
            kind = type(event)
            if (not wanted or kind in wanted) and (not kinds or kinds[-1] is not kind):
                kinds.append(kind)
        return kinds


class Start(Protocol):
    def __call__(
        self,
        config: SessionConfig | None = None,
        settings: Settings | None = None,
        listener: Listener | None = None,
    ) -> Driver: ...


@contextlib.asynccontextmanager
async def drivers(fakes: Fakes) -> AsyncIterator[Start]:
    """``start(config, settings)`` -> a started :class:`Driver` on ``fakes``; every session
    started is closed on leaving (a test module's ``start`` fixture wraps this)."""
    started: list[Driver] = []

    def start(
        config: SessionConfig | None = None,
        settings: Settings | None = None,
        listener: Listener | None = None,
    ) -> Driver:
        driver = Driver(fakes, config or CONFIG, settings or Settings(), listener)
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
