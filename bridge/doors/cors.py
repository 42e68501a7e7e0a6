"""CORS for the realtime HTTP endpoints, so a page from another origin can post SDP offers.

Browsers preflight a cross-origin offer because it carries ``Authorization``, a
``Content-Type`` of ``application/sdp`` and (agents-js) ``X-OpenAI-Agents-SDK``; the answer's
``Location`` header must be exposed, or the page cannot learn the call id. Only paths under
``/v1/realtime`` get CORS headers; with no allowed origins (the default) nothing changes.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

REALTIME_PREFIX = "/v1/realtime"
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-OpenAI-Agents-SDK",
    "OpenAI-Beta",
    "OpenAI-Organization",
    "OpenAI-Project",
    "X-API-Key",
)


class RealtimeCORS:
    """Starlette's CORS middleware, applied only to the realtime HTTP endpoints."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self._plain = app
        self._cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=list(ALLOWED_HEADERS),
            expose_headers=["Location"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(REALTIME_PREFIX):
            await self._cors(scope, receive, send)
        else:
            await self._plain(scope, receive, send)


def realtime_cors(origins: list[str]) -> list[Middleware]:
    """The app's middleware for ``BRIDGE_CORS_ORIGINS`` (none when it is empty)."""
    return [Middleware(RealtimeCORS, origins=origins)] if origins else []
