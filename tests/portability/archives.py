"""Exports and imports through the public doors, and archives rebuilt with changes."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from typing import Any

from tests.support.app import BASE_URL, Api

EXPORT = """mutation { exportMyData {
  id status imagesTotal imagesDone byteSize downloadUrl failure createdAt expiresAt } }"""
JOB = """query($id: ID!) { dataExport(id: $id) {
  id status imagesTotal imagesDone byteSize downloadUrl failure completedAt expiresAt } }"""
IMPORT = """mutation($file: Upload!, $keep: Boolean!) {
  importMyData(file: $file, keepConsent: $keep) {
    __typename
    ... on DataImport { consentKept images { id } }
    ... on Error { code message }
    ... on InvalidArchiveError { problem entry }
  } }"""
POOL = """{ meImages { id kind label tags primaryFor createdAt updatedAt contentType width height
  publicUrl usage { aiReference showInProfile } } profile { aiUsesReferenceImages } }"""
# Polls of an export's progress: each waits on the server's answer; the count bounds it.
MAX_POLLS = 2000


async def finished_export(api: Api, owner: str, job_id: str) -> dict[str, Any]:
    """Poll `dataExport` until the build leaves RUNNING; every answer seen is checked."""
    for _ in range(MAX_POLLS):
        job: dict[str, Any] = (await api.gql(JOB, {"id": job_id}, user=owner))["dataExport"]
        assert 0 <= job["imagesDone"] <= max(job["imagesTotal"], job["imagesDone"])
        if job["status"] != "RUNNING":
            return job
        await asyncio.sleep(0.02)  # yield to the build between polls; not a verdict on time
    raise AssertionError(f"export {job_id} still running after {MAX_POLLS} polls")


async def export_via_graphql(api: Api, owner: str) -> tuple[dict[str, Any], bytes]:
    started = (await api.gql(EXPORT, user=owner))["exportMyData"]
    assert started["status"] == "RUNNING" and started["downloadUrl"] is None, started
    job = await finished_export(api, owner, started["id"])
    assert job["status"] == "DONE", job
    # Absolute, like media URLs: under the origin the request reached.
    assert job["downloadUrl"].startswith(f"{BASE_URL}/exports/"), job
    response = await api.client.get(job["downloadUrl"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert len(response.content) == int(job["byteSize"])
    return job, response.content


async def import_via_graphql(
    api: Api, owner: str, archive: bytes, *, keep_consent: bool = False
) -> dict[str, Any]:
    operations = {"query": IMPORT, "variables": {"file": None, "keep": keep_consent}}
    response = await api.client.post(
        "/graphql",
        headers=api.headers(owner, preflight=True),
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("export.zip", archive, "application/zip")},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["importMyData"]
    return result


async def pool_of(api: Api, owner: str) -> dict[str, Any]:
    data: dict[str, Any] = await api.gql(POOL, user=owner)
    return data


async def served(api: Api, url: str) -> bytes:
    response = await api.client.get(url)
    assert response.status_code == 200, url
    return response.content


def entries(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def rebuild(
    archive: bytes,
    *,
    replace: dict[str, bytes | None] | None = None,
    add: list[tuple[zipfile.ZipInfo | str, bytes]] | None = None,
) -> bytes:
    """The archive with entries replaced (None drops one) and entries added."""
    out = io.BytesIO()
    replace = replace or {}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries(archive).items():
            new = replace.get(name, data)
            if new is not None:
                zf.writestr(name, new)
        for info, data in add or []:
            zf.writestr(info, data)
    return out.getvalue()


def document(archive: bytes, name: str) -> Any:
    return json.loads(entries(archive)[name])
