"""An ASGI app served by uvicorn on a free 127.0.0.1 port, in a thread of the test process:
the HTTP side of the stand-ins (the image provider, the ComfyUI engine)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

START_BOUND_S = 10.0  # a safety net: start() returns as soon as uvicorn says it started


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
