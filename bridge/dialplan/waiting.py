"""Waiting for the first of several things without leaving the others behind."""

from __future__ import annotations

import asyncio
from typing import Any


async def first_done(
    tasks: list[asyncio.Task[Any]],
    limit_s: float | None,
    *,
    also: asyncio.Future[Any] | None = None,
) -> set[asyncio.Future[Any]]:
    """Wait for the first of ``tasks`` (or ``also``) to finish, then cancel and await the rest.

    The tasks are cancelled even when the wait itself is (the call ended): a task left pending
    on a queue would outlive its call and be destroyed, still pending, by the garbage collector.
    """
    waits: list[asyncio.Future[Any]] = [*tasks, *([also] if also is not None else [])]
    try:
        done, _ = await asyncio.wait(waits, timeout=limit_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return done
