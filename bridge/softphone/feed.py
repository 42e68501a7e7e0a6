"""What the page sees of its call: the events it shows, on the data channel.

The page draws a live transcript of both sides and marks interrupted replies. It reads the
realtime API's own GA event names (rendered by :mod:`bridge.realtime.events`), so a developer
reading the data channel sees familiar events; audio deltas never go (audio is on the track),
and neither does anything the page does not draw.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from bridge.calls.call import CallHooks
from bridge.engine import events as ev
from bridge.logging import get_logger
from bridge.realtime.dialect import Dialect
from bridge.realtime.events import render_event

log = get_logger("bridge.softphone")

SHOWN = (
    ev.InputAudioBufferSpeechStarted,
    ev.InputAudioBufferSpeechStopped,
    ev.InputAudioTranscriptionCompleted,
    ev.ResponseAudioTranscriptDelta,
    ev.ResponseAudioTranscriptDone,
    ev.ConversationItemTruncated,
    ev.ErrorEvent,
)


class PageFeed:
    def __init__(self, send: Callable[[str], None]) -> None:
        """``send``: one JSON message to the page (dropped if the channel is not open)."""
        self._send = send

    def hooks(self) -> CallHooks:
        return CallHooks(on_event=[self.on_event], on_dtmf=[self.on_digit])

    def started(self, call_id: str, number: str, name: str) -> None:
        self._post({"type": "call.started", "call_id": call_id, "number": number, "name": name})

    def on_event(self, event: ev.EngineEvent) -> None:
        if not isinstance(event, SHOWN):
            return
        rendered = render_event(event, Dialect.GA)
        if rendered is not None:
            self._post(rendered)

    def on_digit(self, digit: str) -> None:
        self._post({"type": "dtmf.received", "digit": digit})

    def _post(self, message: dict[str, object]) -> None:
        self._send(json.dumps(message, separators=(",", ":")))
