"""The browser softphone as a carrier: its frames, sans I/O.

A softphone call is a WebRTC peer: the caller's audio arrives on an RTP track and the page's
commands (keypad digits, hang-up) as JSON on a data channel. The transport
(:mod:`bridge.softphone.transport`) turns both into frames for this codec, so the call adapter
serves a browser exactly as it serves Twilio: same dialplans, agent, tools, barge-in and DTMF
path. Frames, both ways:

* ``bytes``: wire audio (the call's :class:`~bridge.audio.format.AudioFormat`), one or more
  whole 20 ms frames;
* ``str``: one JSON object. From the page: ``{"type": "dtmf", "digit": "5"}``,
  ``{"type": "hangup"}``. To the transport: ``{"type": "mark", "name": …}`` (tell me when the
  outbound track has handed out everything before this point), ``{"type": "clear"}`` (drop what
  the track has queued), ``{"type": "hangup"}`` (tell the page, then close). The transport
  echoes a mark, as a carrier does, once the track's clock has played it out or a clear dropped
  it: playout acks come from the media path itself, never from a guess.

A mark echo names a mark this codec issued and has not seen back; anything else is refused, so
a page cannot claim it heard audio that was never sent.
"""

from __future__ import annotations

import json
from typing import Literal

from bridge.carriers.base import (
    CallEnded,
    CallEvent,
    CarrierProtocolError,
    DtmfReceived,
    Frame,
    Ignored,
    MarkPlayed,
    MediaReceived,
    dtmf_key,
    json_object,
)

MAX_OUTSTANDING_MARKS = 10_000  # far more than a call has in flight; bounds a stuck track


def message(kind: str, **fields: object) -> str:
    return json.dumps({"type": kind, **fields}, separators=(",", ":"))


class BrowserCodec:
    """The bridge side of one softphone call."""

    name = "softphone"
    playout_acks: Literal["mark", "none"] = "mark"
    joins_frames = True  # the transport splits audio into the track's 20 ms frames itself

    def __init__(self) -> None:
        self._marks: set[str] = set()

    def receive(self, frame: Frame) -> list[CallEvent]:
        if isinstance(frame, bytes):
            return [MediaReceived(frame)] if frame else []
        event = json_object(frame)
        kind = event.get("type")
        if kind == "dtmf":
            return [DtmfReceived(dtmf_key(event.get("digit")))]
        if kind == "hangup":
            return [CallEnded("hangup")]
        if kind == "mark":
            name = event.get("name")
            if not isinstance(name, str) or name not in self._marks:
                raise CarrierProtocolError(f"echo of a mark that was never sent: {name!r:.40}")
            self._marks.discard(name)
            return [MarkPlayed(name)]
        if kind == "ping":
            return [Ignored("ping")]
        raise CarrierProtocolError(f"unknown softphone message type {kind!r:.40}")

    def media(self, audio: bytes) -> list[Frame]:
        return [audio]

    def mark(self, name: str) -> list[Frame]:
        if len(self._marks) >= MAX_OUTSTANDING_MARKS:
            return []  # the track stopped playing: no more promises it cannot keep
        self._marks.add(name)
        return [message("mark", name=name)]

    def clear(self) -> list[Frame]:
        return [message("clear")]

    def hangup(self) -> list[Frame]:
        return [message("hangup")]
