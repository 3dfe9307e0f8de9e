"""What the stand-ins on loopback (the image provider, the ComfyUI engine) share: an ASGI
app served by uvicorn on a free 127.0.0.1 port in a thread of the test process, and a gate
that holds their work mid-way for a test."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn

START_BOUND_S = 10.0  # a safety net: start() returns as soon as uvicorn says it started


class Gate:
    """From `hold()` until `release()`, whatever reaches `wait()` waits there; `held` is set
    once something does (an observed event for the test, not a delay)."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self._event: threading.Event | None = None

    def hold(self) -> None:
        self.held.clear()
        self._event = threading.Event()

    def release(self) -> None:
        event, self._event = self._event, None
        if event is not None:
            event.set()

    def open(self) -> None:
        """Let through what waits, and whatever comes later, until the next `hold()`."""
        event = self._event
        if event is not None:
            event.set()

    async def wait(self, limit_s: float) -> None:
        """Wait while held, `limit_s` at the most (a safety net: the test lets go first)."""
        event = self._event
        if event is not None:
            self.held.set()
            await asyncio.to_thread(event.wait, limit_s)


class LoopbackServer:
    def __init__(self, name: str) -> None:
        self.name = name  # for the error when it does not start: "the ... server"
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, app: Any, **config: Any) -> None:
        """Serve `app` (uvicorn.Config's further options in `config`), back once it listens."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        options: dict[str, Any] = {
            "log_level": "warning",
            "lifespan": "off",
            "timeout_graceful_shutdown": 1,
            **config,
        }
        self._server = uvicorn.Server(uvicorn.Config(app, **options))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_BOUND_S
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
