"""The one exception the wire layer raises, shaped like the realtime API's ``error`` event."""

from __future__ import annotations

from dataclasses import dataclass, replace

INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"

# Error codes, spelled as OpenAI's API spells them so clients that switch on them keep working.
INVALID_JSON = "invalid_json"
INVALID_EVENT = "invalid_event"
MISSING_PARAMETER = "missing_required_parameter"
INVALID_TYPE = "invalid_type"
INVALID_VALUE = "invalid_value"
DECIMAL_BELOW_MIN = "decimal_below_min_value"
DECIMAL_ABOVE_MAX = "decimal_above_max_value"
INTEGER_BELOW_MIN = "integer_below_min_value"
INTEGER_ABOVE_MAX = "integer_above_max_value"
STRING_ABOVE_MAX_LENGTH = "string_above_max_length"
ARRAY_ABOVE_MAX_LENGTH = "array_above_max_length"
CANNOT_UPDATE_VOICE = "cannot_update_voice"


# Not frozen: Python code (contextlib) assigns ``__traceback__`` on exceptions it re-raises.
@dataclass(eq=False)
class CommandError(Exception):
    """A client event the server rejects; the session stays open and an ``error`` event is sent.

    ``param`` is the dotted path of the offending field (``session.audio.input.format``) and
    ``event_id`` the id of the client event, when the client gave one.
    """

    code: str
    message: str
    param: str | None = None
    type: str = INVALID_REQUEST
    event_id: str | None = None

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        return self.message

    def with_event_id(self, event_id: str | None) -> CommandError:
        """The same error blamed on a client event (validators deep down do not know its id)."""
        if event_id is None or self.event_id is not None:
            return self
        return replace(self, event_id=event_id)
