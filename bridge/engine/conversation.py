"""The engine's whole surface, as doors, calls and dialplans see it.

Two implementations: :class:`~bridge.engine.session.LocalConversation` runs the local
pipeline, :class:`~bridge.upstream.relay.RelayConversation` forwards to an upstream
``/v1/realtime`` server. Code that holds a :class:`Conversation` never needs to know which.
"""

from __future__ import annotations

from typing import Protocol

from bridge.engine.commands import Command
from bridge.engine.config import SessionConfig
from bridge.engine.items import Item, MessageItem
from bridge.engine.response import ResponseParams


class Conversation(Protocol):
    @property
    def config(self) -> SessionConfig: ...

    @property
    def responding(self) -> bool:
        """A response is being generated."""
        ...

    def start(self) -> None: ...

    async def close(self) -> None: ...

    async def handle(self, command: Command) -> None:
        """Carry out a command; raises CommandError (nothing changed) when it is refused."""
        ...

    def reconfigure(self, config: SessionConfig) -> None:
        """Change the session from the server side (a dialplan switching modes)."""
        ...

    def say(self, text: str) -> None:
        """Speak ``text`` as the assistant, after any reply in progress."""
        ...

    def add_user_text(self, text: str) -> MessageItem: ...

    def add_item(self, item: Item) -> None: ...

    def create_response(self, params: ResponseParams) -> None: ...

    async def interrupt(self) -> None:
        """Stop the assistant now and forget what the caller did not hear."""
        ...
