"""Events on the ``oai-events`` data channel: one JSON event per message, size-checked.

aiortc's ``send()`` raises ``ValueError`` for a message over the peer's maximum (262,144 bytes
at most, 65,536 when the peer does not say), and ``InvalidStateError`` once the channel has
closed. Either would kill whatever task was sending, so every send goes through
:class:`EventChannel`: an event that cannot fit is replaced by an ``error`` event saying so
(an event is never split: clients parse one whole JSON document per message), and a closed
channel swallows what is sent to it.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Protocol

LOCAL_MAX_MESSAGE_BYTES = 262_144  # aiortc's own limit (rtcsctptransport.LOCAL_MAX_MESSAGE_SIZE)


class Channel(Protocol):
    """What this module needs of an ``RTCDataChannel``."""

    @property
    def readyState(self) -> str: ...  # aiortc's name

    def send(self, data: str | bytes) -> None: ...


def too_large_error(event: dict[str, Any], size: int, limit: int) -> dict[str, Any]:
    return {
        "type": "error",
        "event_id": f"event_{secrets.token_hex(10)}",
        "error": {
            "type": "invalid_request_error",
            "code": "event_too_large",
            "message": (
                f"The server event {event.get('type', '?')!r} is {size} bytes, over the data "
                f"channel's {limit}-byte message limit; it was not sent."
            ),
            "param": None,
            "event_id": None,
        },
    }


class EventChannel:
    def __init__(self, channel: Channel, *, max_bytes: int = LOCAL_MAX_MESSAGE_BYTES) -> None:
        self.channel = channel
        self.max_bytes = min(max_bytes, LOCAL_MAX_MESSAGE_BYTES)
        self.sent = 0
        self.refused = 0

    def send(self, event: dict[str, Any]) -> bool:
        """Send one event; False when it was refused (too large) or the channel is closed."""
        if self.channel.readyState != "open":
            return False
        text = json.dumps(event)
        size = len(text.encode())
        if size > self.max_bytes:
            self.refused += 1
            self._send(json.dumps(too_large_error(event, size, self.max_bytes)))
            return False
        return self._send(text)

    def _send(self, text: str) -> bool:
        try:
            self.channel.send(text)
        except ValueError:  # the peer announced a smaller limit than ours
            self.refused += 1
            if len(text) > 1024:  # not the refusal itself: say why instead
                self._send(json.dumps(too_large_error(json.loads(text), len(text), 65_536)))
            return False
        except Exception:  # InvalidStateError: closed between the check and the send
            return False
        self.sent += 1
        return True
