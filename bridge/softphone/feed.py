"""What the page sees of its call: the events it shows, on the data channel.

The page draws a live transcript of both sides and marks interrupted replies. It reads the
realtime API's own GA event names (rendered by :mod:`bridge.realtime.events`), so a developer
reading the data channel sees familiar events; audio deltas never go (audio is on the track),
and neither does anything the page does not draw.

A phone call's session reports no input transcription events (its transcripts live on the
caller's items, for the agent and the turn log). The feed keeps each of the caller's audio
items and posts its transcript, as ``conversation.item.input_audio_transcription.completed``,
with the first event after the transcript is there (the reply to it is always such an event).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.calls.call import CallHooks
from bridge.engine import events as ev
from bridge.engine.items import InputAudioPart, MessageItem
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
    def __init__(self, send: Callable[[dict[str, Any]], None]) -> None:
        """``send``: one event to the page."""
        self._send = send
        self._untold: list[MessageItem] = []  # the caller's audio items, transcripts not sent

    def hooks(self) -> CallHooks:
        return CallHooks(on_event=[self.on_event], on_dtmf=[self.on_digit])

    def started(self, call_id: str, number: str, name: str) -> None:
        self._post({"type": "call.started", "call_id": call_id, "number": number, "name": name})

    def on_event(self, event: ev.EngineEvent) -> None:
        if self._untold:
            self._tell_transcripts()
        if isinstance(event, ev.ConversationItemDone):
            item = event.item
            if isinstance(item, MessageItem) and _spoken_by_caller(item):
                self._untold.append(item)
            return
        if isinstance(event, ev.InputAudioTranscriptionCompleted):
            return  # told from the item, once
        if not isinstance(event, SHOWN):
            return
        rendered = render_event(event, Dialect.GA)
        if rendered is not None:
            self._post(rendered)

    def _tell_transcripts(self) -> None:
        waiting = []
        for item in self._untold:
            parts = [(i, p) for i, p in enumerate(item.content) if isinstance(p, InputAudioPart)]
            if any(part.transcript is None for _, part in parts):
                waiting.append(item)
                continue
            for index, part in parts:
                if part.transcript:
                    told = ev.InputAudioTranscriptionCompleted(item.id, index, part.transcript)
                    self._post(render_event(told, Dialect.GA) or {})
        self._untold = waiting

    def on_digit(self, digit: str) -> None:
        self._post({"type": "dtmf.received", "digit": digit})

    def _post(self, message: dict[str, Any]) -> None:
        self._send(message)


def _spoken_by_caller(item: MessageItem) -> bool:
    return item.role == "user" and any(isinstance(part, InputAudioPart) for part in item.content)
