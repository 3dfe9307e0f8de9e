"""A real `meimages serve` process on loopback, for tests that need a live server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
MEIMAGES = Path(sys.executable).parent / "meimages"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, user: str, space: str | None = None, ttl: str = "1h") -> str:
        args = [
            str(MEIMAGES),
            "token",
            "--user",
            user,
            "--ttl",
            ttl,
            "--data-dir",
            str(self.data_dir),
        ]
        if space:
            args += ["--space", space]
        return subprocess.run(
            args, env=self.env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(
    data_dir: Path, extra_env: Mapping[str, str] | None = None, port: int | None = None
) -> LiveServer:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEIMAGES_")}
    env.update(extra_env or {})
    env["MEIMAGES_LOG_LEVEL"] = "warning"
    log = open(data_dir / f"server-{port}.log", "ab")  # noqa: SIM115 - lives as long as the process
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            str(MEIMAGES),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    server = LiveServer(process, port, data_dir, env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited: {(data_dir / f'server-{port}.log').read_text()[-2000:]}"
            )
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError("server did not become healthy in 30 s")
