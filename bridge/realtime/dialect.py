"""Which of the two realtime wire dialects a client speaks.

The ``openai`` SDK still ships the beta protocol (``client.beta.realtime``), selected by the
``OpenAI-Beta: realtime=v1`` header, next to the GA protocol (``client.realtime``), which sends
no such header. Everything else in this package renders and parses per :class:`Dialect`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

BETA_HEADER = "openai-beta"
BETA_TOKEN = "realtime=v1"
# Browsers cannot set headers on a WebSocket, so browser clients (the openai package's browser
# client, openai-realtime-console) ask for the beta dialect with this subprotocol instead.
BETA_SUBPROTOCOL = "openai-beta.realtime-v1"


class Dialect(StrEnum):
    BETA = "beta"
    GA = "ga"


HeaderPairs = Iterable[tuple[str | bytes, str | bytes]]


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def detect_dialect(
    headers: Mapping[str, str] | HeaderPairs, subprotocols: Iterable[str] = ()
) -> Dialect:
    """Beta when any ``OpenAI-Beta`` header lists ``realtime=v1`` or the client offers the
    ``openai-beta.realtime-v1`` subprotocol, otherwise GA.

    Accepts a mapping (a Starlette ``Headers`` or a plain dict) or ASGI-style ``(name, value)``
    pairs. Names compare case-insensitively because a plain dict does not, and the header may
    carry several comma-separated flags (``assistants=v2, realtime=v1``).
    """
    if any(p.strip().lower() == BETA_SUBPROTOCOL for p in subprotocols):
        return Dialect.BETA
    pairs: Iterable[tuple[str | bytes, str | bytes]] = (
        headers.items() if isinstance(headers, Mapping) else headers
    )
    for name, value in pairs:
        if _text(name).strip().lower() != BETA_HEADER:
            continue
        flags = {flag.strip().lower().replace(" ", "") for flag in _text(value).split(",")}
        if BETA_TOKEN in flags:
            return Dialect.BETA
    return Dialect.GA
