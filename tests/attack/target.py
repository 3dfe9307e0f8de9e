"""The server under attack: a real `meimages serve` process, and ways to poke and watch it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.auth import issue_token
from api.settings import Settings
from tests.e2e.server import LiveServer, start_server

# Anything a browser could send cross-site needs this header; the attacks that are not
# about CSRF send it, so they reach the code they aim at.
PREFLIGHT = {"GraphQL-Require-Preflight": "1"}

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
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.live.url

    @property
    def port(self) -> int:
        return self.live.port

    @property
    def pid(self) -> int:
        return self.live.process.pid

    def token(self, user: str) -> str:
        """The first token comes from `meimages token`; later ones are minted the same way
        in-process from the server's own secrets file (the CLI costs a second a call)."""
        if not self.tokens:
            self.tokens[user] = self.live.token(user)
        if user not in self.tokens:
            settings = Settings(data_dir=self.live.data_dir).with_local_secrets()
            self.tokens[user] = issue_token(settings, user, ttl_s=3600)
        return self.tokens[user]

    def headers(self, user: str, *, preflight: bool = True) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token(user)}"}
        return {**headers, **PREFLIGHT} if preflight else headers

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def post(self, user: str, body: object) -> httpx.Response:
        # ASCII JSON, so that strings no UTF-8 can hold (lone surrogates) still go out.
        headers = {**self.headers(user), "content-type": "application/json"}
        with self.client() as http:
            return http.post("/graphql", content=json.dumps(body), headers=headers)

    def gql(self, user: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Data of a request that must succeed."""
        response = self.post(user, {"query": query, "variables": variables or {}})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]

    def upload(
        self,
        user: str,
        data: bytes,
        *,
        filename: str = "photo.jpg",
        content_type: str = "image/jpeg",
        input: dict[str, Any] | None = None,
    ) -> httpx.Response:
        operations = {
            "query": "mutation($file: Upload!, $input: UploadMeImageInput) {"
            f" uploadMeImage(file: $file, input: $input) {{ {UPLOAD_FIELDS} }} }}",
            "variables": {"file": None, "input": input},
        }
        with self.client(timeout=60) as http:
            return http.post(
                "/graphql",
                data={"operations": json.dumps(operations), "map": '{"0": ["variables.file"]}'},
                files={"0": (filename, data, content_type)},
                headers=self.headers(user),
            )

    def healthy(self) -> bool:
        if self.live.process.poll() is not None:
            return False
        try:
            with self.client(timeout=5) as http:
                return http.get("/healthz").json() == {"status": "ok"}
        except httpx.HTTPError:
            return False

    # What the process holds -------------------------------------------------

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc status")

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


def launch(base: Path, backend: str, database_url: str, **env: str) -> Target:
    """Start a server with its own data dir and TMPDIR (where Starlette spools uploads)."""
    data_dir, tmp_dir = base / "data", base / "tmp"
    data_dir.mkdir(parents=True)
    tmp_dir.mkdir()
    extra = {"TMPDIR": str(tmp_dir), **env}
    if backend == "postgres":
        extra["MEIMAGES_DATABASE_URL"] = database_url
    return Target(start_server(data_dir, extra), backend, tmp_dir)
