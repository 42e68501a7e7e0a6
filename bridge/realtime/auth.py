"""API keys and the short-lived client secrets ("ephemeral keys") minted from them.

Where a credential may come from, as OpenAI clients send it: ``Authorization: Bearer``,
``X-API-Key``, the ``api_key`` query parameter, or a browser's
``openai-insecure-api-key.<key>`` WebSocket subprotocol.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SUBPROTOCOL_KEY_PREFIX = "openai-insecure-api-key."
EPHEMERAL_PREFIX = "ek_"


@dataclass(frozen=True)
class ClientSecret:
    value: str
    expires_at: int
    session: Mapping[str, Any] = field(default_factory=dict)  # config the secret was minted with


@dataclass(frozen=True)
class Grant:
    """An accepted credential; ``secret`` is set when it was an ephemeral key."""

    secret: ClientSecret | None = None


def credential_from(
    headers: Mapping[str, str], query: Mapping[str, str], subprotocols: list[str]
) -> str | None:
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    if headers.get("x-api-key"):
        return headers["x-api-key"].strip()
    if query.get("api_key"):
        return query["api_key"]
    for protocol in subprotocols:
        if protocol.startswith(SUBPROTOCOL_KEY_PREFIX):
            return protocol[len(SUBPROTOCOL_KEY_PREFIX) :]
    return None


class KeyStore:
    def __init__(
        self,
        api_keys: list[str],
        *,
        clock: Callable[[], float] = time.time,
        max_secrets: int = 10_000,
    ) -> None:
        self._api_keys = [key.encode() for key in api_keys]
        self._secrets: dict[str, ClientSecret] = {}
        self._clock = clock
        self._max_secrets = max_secrets

    @property
    def open(self) -> bool:
        """No keys configured: anyone may connect."""
        return not self._api_keys

    def check(self, credential: str | None) -> Grant | None:
        """The grant for ``credential``, or None when it must be refused."""
        if credential and credential.startswith(EPHEMERAL_PREFIX):
            self._expire()
            secret = self._secrets.get(credential)
            return Grant(secret) if secret is not None else None
        if self.open:
            return Grant()
        if credential is None:
            return None
        given = credential.encode()
        # Constant-time comparison: a key must not leak through response timing.
        return Grant() if any(hmac.compare_digest(given, key) for key in self._api_keys) else None

    def mint(self, ttl_s: int, session: Mapping[str, Any]) -> ClientSecret:
        self._expire()
        if len(self._secrets) >= self._max_secrets:
            raise RuntimeError("too many live client secrets")
        secret = ClientSecret(
            value=EPHEMERAL_PREFIX + secrets.token_urlsafe(24),
            expires_at=int(self._clock() + ttl_s),
            session=dict(session),
        )
        self._secrets[secret.value] = secret
        return secret

    def _expire(self) -> None:
        now = self._clock()
        for value in [v for v, s in self._secrets.items() if s.expires_at <= now]:
            del self._secrets[value]
