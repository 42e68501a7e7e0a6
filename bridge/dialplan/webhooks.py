"""Webhooks a dialplan calls: one JSON request, the reply's JSON (or text).

The reply comes from a server the dialplan's author named, not from us, so it is read like any
other peer's input: at most :data:`MAX_REPLY_BYTES` (a larger reply is refused while it is still
arriving, never buffered whole), and parsed with the JSON depth guard (``"[" * 5000`` would
otherwise raise ``RecursionError`` out of the call flow and end the call). Either refusal is a
:class:`WebhookError`, so the node takes its ``on_error`` branch and an agent's tool answers
``failed``.
"""

from __future__ import annotations

from typing import Any

import httpx

from bridge.json_limits import DEFAULT_MAX_DEPTH, JsonTooDeep, loads

MAX_REPLY_BYTES = 1 << 20  # a webhook's reply is a few variables, not a download


class WebhookError(Exception):
    pass


async def call_webhook(
    url: str,
    method: str,
    headers: dict[str, str],
    body: Any,
    timeout_s: float,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Any:
    """One JSON request; the reply's JSON (or text). Failures, replies over
    :data:`MAX_REPLY_BYTES` and JSON nested deeper than ``max_depth`` raise
    :class:`WebhookError`."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            if method == "GET":
                request = client.build_request("GET", url, headers=headers, params=body or None)
            else:
                request = client.build_request(method, url, headers=headers, json=body)
            response = await client.send(request, stream=True)
            try:
                if not response.is_success:
                    raise WebhookError(f"{method} {url} answered {response.status_code}")
                content = await _read_capped(response, f"{method} {url}")
            finally:
                await response.aclose()
    except httpx.HTTPError as exc:
        raise WebhookError(f"{method} {url} failed: {exc!r}") from exc
    try:
        return loads(content, max_depth=max_depth)
    except JsonTooDeep as exc:
        raise WebhookError(f"{method} {url} answered JSON {exc}") from exc
    except ValueError:  # not JSON (or not UTF-8): the text, as before
        return content.decode(response.encoding or "utf-8", errors="replace")


async def _read_capped(response: httpx.Response, what: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_REPLY_BYTES:
        raise WebhookError(f"{what} answered {declared} bytes, over the {MAX_REPLY_BYTES} allowed")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise WebhookError(f"{what} answered more than the {MAX_REPLY_BYTES} bytes allowed")
        chunks.append(chunk)
    return b"".join(chunks)
