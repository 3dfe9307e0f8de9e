"""Through a real `meimages serve` on loopback: export over HTTP, download the archive
by its signed URL with no token, import it back into another owner."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile

import httpx

from testbed.graphql import data_of
from testbed.images import jpeg, webp
from testbed.server import LiveServer
from tests.portability.archives import EXPORT, IMPORT, JOB, MAX_POLLS, POOL


async def test_export_download_and_import_over_http(
    live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    client = live_server.graphql(http)
    owner, newcomer = f"live-{uuid.uuid4().hex[:8]}", f"live-new-{uuid.uuid4().hex[:8]}"
    await client.upload_image(jpeg(31), user=owner, input={"kind": "FACE", "label": "live"})
    await client.upload_image(webp(32), user=owner, input={"kind": "HANDS", "tags": ["x"]})

    job = (await client.gql(EXPORT, user=owner))["exportMyData"]
    for _ in range(MAX_POLLS):  # bounded: each poll waits on the server's answer
        job = (await client.gql(JOB, {"id": job["id"]}, user=owner))["dataExport"]
        if job["status"] != "RUNNING":
            break
        await asyncio.sleep(0.02)
    assert job["status"] == "DONE", job

    # The signed URL is the access: no token, any client.
    async with httpx.AsyncClient(timeout=30) as anonymous:
        download = await anonymous.get(job["downloadUrl"])
    assert download.status_code == 200
    assert download.headers["cache-control"] == "private, no-store"
    assert "attachment" in download.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert archive.testzip() is None
        assert len([n for n in archive.namelist() if n.startswith("images/")]) == 2

    operations = {"query": IMPORT, "variables": {"file": None, "keep": False}}
    response = await http.post(
        live_server.graphql_url,
        headers={**live_server.headers(newcomer), "GraphQL-Require-Preflight": "1"},
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("export.zip", download.content, "application/zip")},
    )
    result = data_of(response)["importMyData"]
    assert result["__typename"] == "DataImport", result
    pool = (await client.gql(POOL, user=newcomer))["meImages"]
    pool.sort(key=lambda image: image["createdAt"])
    assert [(i["kind"], i["label"], i["tags"]) for i in pool] == [
        ("FACE", "live", []),
        ("HANDS", None, ["x"]),
    ]
