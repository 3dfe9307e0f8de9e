"""`/healthz` is liveness; `/readyz` checks the database, the blob store and (PostgreSQL)
the LISTEN connection, and says which failed. Each is broken for real here."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from testbed.server import deployment_secrets, start_server
from tests.support.databases import drop_database, throwaway_database

POLLS = 400
POLL_S = 0.05


async def _ready(http: httpx.AsyncClient, url: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = await http.get(f"{url}/readyz")
    return response.status_code, response.json()


async def _until(http: httpx.AsyncClient, url: str, status: int) -> dict:  # type: ignore[type-arg]
    """Poll (bounded) until /readyz answers `status`: the probe sees what we broke."""
    for _ in range(POLLS):
        code, body = await _ready(http, url)
        if code == status:
            return body
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"/readyz never answered {status}: {body}")


async def test_an_unusable_media_folder_makes_the_server_unready(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    data = tmp_path / "data"
    server = start_server(data, deployment_secrets())
    try:
        status, body = await _ready(http, server.url)
        assert status == 200, body
        assert body == {"status": "ready", "checks": {"database": "ok", "blob_store": "ok"}}
        media = data / "media"
        media.rename(tmp_path / "media-away")
        media.write_text("not a folder")  # root may read any folder: replace it instead
        body = await _until(http, server.url, 503)
        assert body["failed"] == ["blob_store"]
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["blob_store"].startswith("failed: ")
        assert str(tmp_path) not in str(body)  # the kind of error, not its text
        assert (await http.get(f"{server.url}/healthz")).status_code == 200
        media.unlink()
        (tmp_path / "media-away").rename(media)
        await _until(http, server.url, 200)
    finally:
        server.stop()


async def test_a_dropped_postgres_database_fails_the_database_and_listen_checks(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    async with throwaway_database("postgres", tmp_path, prefix="meimages_readyz") as url:
        server = start_server(
            tmp_path / "data", {**deployment_secrets(), "MEIMAGES_DATABASE_URL": url}
        )
        try:
            status, body = await _ready(http, server.url)
            assert status == 200, body
            assert body["checks"] == {"database": "ok", "blob_store": "ok", "event_listener": "ok"}
            await drop_database(url)  # WITH (FORCE): the server's connections are cut too
            body = await _until(http, server.url, 503)
            assert "database" in body["failed"], body
            body = await _until_failed(http, server.url, "event_listener")
            assert body["checks"]["blob_store"] == "ok"
            assert (await http.get(f"{server.url}/healthz")).status_code == 200
        finally:
            server.stop()


async def _until_failed(http: httpx.AsyncClient, url: str, check: str) -> dict:  # type: ignore[type-arg]
    for _ in range(POLLS):
        _, body = await _ready(http, url)
        if check in body.get("failed", []):
            return body
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"{check} never failed: {body}")
