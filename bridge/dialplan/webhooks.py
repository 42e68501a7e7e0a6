"""Webhooks a dialplan calls: one JSON request, the reply's JSON (or text)."""

from __future__ import annotations

from typing import Any

import httpx


class WebhookError(Exception):
    pass


async def call_webhook(
    url: str, method: str, headers: dict[str, str], body: Any, timeout_s: float
) -> Any:
    """One JSON request; the reply's JSON (or text). Failures raise :class:`WebhookError`."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            if method == "GET":
                response = await client.get(url, headers=headers, params=body or None)
            else:
                response = await client.request(method, url, headers=headers, json=body)
    except httpx.HTTPError as exc:
        raise WebhookError(f"{method} {url} failed: {exc!r}") from exc
    if not response.is_success:
        raise WebhookError(f"{method} {url} answered {response.status_code}")
    try:
        return response.json()
    except ValueError:
        return response.text
