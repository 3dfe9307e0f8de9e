"""The server under attack: a real `meimages serve` process, and ways to poke and watch it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from testbed.graphql import bearer, data_of, upload_form
from testbed.server import LiveServer, start_server

UPLOAD_FIELDS = (
    "__typename ... on MeImage { id mediaId storagePath width height contentType publicUrl }"
    " ... on Error { code message }"
)


@dataclass
class Target:
    """One live server: its process, its database backend and the TMPDIR it spools to."""

    live: LiveServer
    backend: str
    tmp_dir: Path

    @property
    def url(self) -> str:
        return self.live.url

    @property
    def port(self) -> int:
        return self.live.port

    @property
    def pid(self) -> int:
        return self.live.pid

    def token(self, user: str) -> str:
        return self.live.token(user)

    def headers(self, user: str, *, preflight: bool = True) -> dict[str, str]:
        return bearer(self.token(user), preflight=preflight)

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def post(self, user: str, body: object) -> httpx.Response:
        # ASCII JSON, so that strings no UTF-8 can hold (lone surrogates) still go out.
        headers = {**self.headers(user), "content-type": "application/json"}
        with self.client() as http:
            return http.post("/graphql", content=json.dumps(body), headers=headers)

    def gql(self, user: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Data of a request that must succeed."""
        return data_of(self.post(user, {"query": query, "variables": variables or {}}))

    def upload(
        self,
        user: str,
        data: bytes,
        *,
        filename: str = "photo.jpg",
        content_type: str = "image/jpeg",
        input: dict[str, Any] | None = None,
    ) -> httpx.Response:
        form = upload_form(
            data, fields=UPLOAD_FIELDS, input=input, filename=filename, content_type=content_type
        )
        with self.client(timeout=60) as http:
            return http.post("/graphql", headers=self.headers(user), **form)

    def healthy(self) -> bool:
        if not self.live.alive():
            return False
        try:
            with self.client(timeout=5) as http:
                return http.get("/healthz").json() == {"status": "ok"}
        except httpx.HTTPError:
            return False

    # What the process holds -------------------------------------------------

    def rss_kib(self) -> int:
        return self.live.rss_bytes() // 1024

    def temp_files(self) -> list[str]:
        """Files in the server's TMPDIR, and temp files it still holds open (even unlinked)."""
        on_disk = [str(p) for p in self.tmp_dir.rglob("*")]
        held = []
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                target = os.readlink(f"/proc/{self.pid}/fd/{fd}")
            except OSError:
                continue  # closed while we looked
            if target.startswith(str(self.tmp_dir)):
                held.append(target)
        return on_disk + held

    def stop(self) -> bool:
        """Stop the server; whether it was still alive until then."""
        alive = self.live.alive()
        self.live.stop()
        return alive


def launch(base: Path, backend: str, database_url: str, **settings: str) -> Target:
    """Start a server with its own data dir and TMPDIR (where Starlette spools uploads)."""
    data_dir, tmp_dir = base / "data", base / "tmp"
    data_dir.mkdir(parents=True)
    tmp_dir.mkdir()
    if backend == "postgres":
        settings["MEIMAGES_DATABASE_URL"] = database_url
    # One owner fuzzes at full speed: rate limits (tests/limits) would answer 429 instead
    # of the code under attack.
    for limit in ("REQUESTS_PER_SECOND", "UPLOADS_PER_MINUTE", "GENERATIONS_PER_HOUR"):
        settings.setdefault(f"MEIMAGES_RATE_{limit}", "0")
    return Target(start_server(data_dir, settings, env={"TMPDIR": str(tmp_dir)}), backend, tmp_dir)
