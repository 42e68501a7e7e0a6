"""Run an ASGI app on a loopback port inside the current event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


@contextlib.asynccontextmanager
async def serve_app(app: Any, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve ``app`` and yield its base URL (``http://127.0.0.1:PORT``) once its start-up is
    complete. The socket is bound before the server starts, so nothing races for the port.

    The socket says ``IPPROTO_TCP`` (not 0): asyncio sets ``TCP_NODELAY`` only on connections
    accepted from such a socket, and without it two replies written back to back wait 40 ms
    for the client's delayed ACK (Nagle), which is not what ``bridge serve`` does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    started = asyncio.Event()

    async def signalling_app(scope: Any, receive: Any, send: Any) -> None:
        # Learn when the app's lifespan start-up is over, so servers it starts (AudioSocket)
        # and state it sets are there before the caller uses them.
        async def watched_send(message: Any) -> None:
            await send(message)
            if message["type"].startswith("lifespan.startup."):
                started.set()

        await app(scope, receive, watched_send if scope["type"] == "lifespan" else send)

    config = uvicorn.Config(
        signalling_app,
        log_config=None,
        lifespan="on",
        ws_max_size=16 << 20,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()  # start-up failed: raise why
        raise RuntimeError("the server stopped during start-up")
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def free_port() -> int:
    """A port with nothing listening on it (for "unreachable endpoint" tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
