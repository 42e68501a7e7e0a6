"""The server side of one realtime connection, shared by every transport that speaks it.

Sans I/O: a transport hands in each client text frame (:meth:`ServerConnection.receive`) and
gets every outgoing event through ``deliver`` as a JSON-ready dict, in the client's dialect.
Client events become engine commands here; ``session.update`` is resolved against the current
configuration first, so the engine never sees JSON or a dialect. Anything refused becomes an
``error`` event and the connection goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from bridge.engine import commands as cmd
from bridge.engine import errors
from bridge.engine import events as ev
from bridge.engine.config import SessionConfig
from bridge.engine.errors import CommandError
from bridge.json_limits import DEFAULT_MAX_DEPTH
from bridge.realtime import client_events as ce
from bridge.realtime.client_events import parse_client_event
from bridge.realtime.dialect import Dialect
from bridge.realtime.events import render_event
from bridge.realtime.session_config import apply_update

Deliver = Callable[[dict[str, Any]], None]

WEBSOCKET_CLEAR_REFUSED = (
    "output_audio_buffer.clear is only supported over WebRTC; over a WebSocket, stop playback "
    "locally and send conversation.item.truncate."
)


class Engine(Protocol):
    """What a realtime connection needs of the engine behind it."""

    @property
    def config(self) -> SessionConfig: ...

    @property
    def voice_locked(self) -> bool: ...

    async def handle(self, command: cmd.Command) -> None: ...


class ServerConnection:
    def __init__(
        self,
        dialect: Dialect,
        deliver: Deliver,
        *,
        max_message_bytes: int,
        max_json_depth: int = DEFAULT_MAX_DEPTH,
        plays_audio: bool = False,
    ) -> None:
        """``max_json_depth``: how deep a frame's arrays and objects may nest
        (``BRIDGE_MAX_JSON_DEPTH``). ``plays_audio``: the transport plays the assistant's audio
        itself (WebRTC), so the client may ask it to stop (``output_audio_buffer.clear``)."""
        self.dialect = dialect
        self._deliver = deliver
        self._max_bytes = max_message_bytes
        self._max_depth = max_json_depth
        self._plays_audio = plays_audio

    def send(self, event: ev.EngineEvent) -> None:
        """The engine's ``emit``: render at once, so the event shows the state it reports."""
        rendered = render_event(event, self.dialect)
        if rendered is not None:
            self._deliver(rendered)

    def refuse(self, error: CommandError) -> None:
        self.send(ev.ErrorEvent.from_exception(error))

    async def receive(self, frame: str | bytes, engine: Engine) -> None:
        """One client frame: carried out, or answered with an ``error`` event."""
        event_id = None
        try:
            if isinstance(frame, bytes):
                raise CommandError(
                    errors.INVALID_EVENT, "Binary frames are not supported; send JSON text frames."
                )
            if len(frame) > self._max_bytes:
                raise CommandError(
                    "message_too_large",
                    f"Messages may be at most {self._max_bytes} bytes; this one has {len(frame)}.",
                )
            event = parse_client_event(frame, self.dialect, max_depth=self._max_depth)
            event_id = event.event_id
            await engine.handle(self.command_for(event, engine))
        except CommandError as error:
            self.refuse(error.with_event_id(event_id))

    def command_for(self, event: ce.ClientEvent, engine: Engine) -> cmd.Command:
        match event:
            case ce.SessionUpdate(session=payload):
                config = apply_update(
                    engine.config, payload, self.dialect, voice_locked=engine.voice_locked
                )
                return cmd.UpdateConfig(config)
            case ce.TranscriptionSessionUpdate(session=payload):
                config = apply_update(
                    engine.config, payload, self.dialect, transcription_session=True
                )
                return cmd.UpdateConfig(config)
            case ce.InputAudioBufferAppend(audio=audio):
                return cmd.AppendAudio(audio)
            case ce.InputAudioBufferCommit():
                return cmd.CommitAudio()
            case ce.InputAudioBufferClear():
                return cmd.ClearAudio()
            case ce.ConversationItemCreate(item=item, previous_item_id=previous_id):
                return cmd.CreateItem(item, previous_id)
            case ce.ConversationItemRetrieve(item_id=item_id):
                return cmd.RetrieveItem(item_id)
            case ce.ConversationItemTruncate(
                item_id=item_id, content_index=index, audio_end_ms=end_ms
            ):
                return cmd.TruncateItem(item_id, index, end_ms)
            case ce.ConversationItemDelete(item_id=item_id):
                return cmd.DeleteItem(item_id)
            case ce.ResponseCreate(params=params):
                return cmd.CreateResponse(params)
            case ce.ResponseCancel(response_id=response_id):
                return cmd.CancelResponse(response_id)
            case ce.OutputAudioBufferClear():
                if not self._plays_audio:
                    raise CommandError(errors.INVALID_EVENT, WEBSOCKET_CLEAR_REFUSED, "type")
                return cmd.ClearOutputAudio()
