"""POST /api/v1/me/import: archives larger than a GraphQL request may be, the same rules."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path

from api.settings import Settings
from testbed.photos import photo
from tests.portability.archives import import_via_graphql, pool_of
from tests.support.app import Api, running_api
from tests.support.databases import sqlite_url

IMPORT_PATH = "/api/v1/me/import"


def archive_of(photos: list[bytes]) -> bytes:
    """A format-1 archive made by hand, as another tool could write one."""
    out = io.BytesIO()
    images = [
        {
            "id": f"img-{n}",
            "kind": "reference",
            "label": f"big {n}",
            "tags": [],
            "usage": {"aiReference": True, "showInProfile": True},
            "primaryFor": None,
            "createdAt": f"2024-01-0{n + 1}T12:00:00+00:00",
            "updatedAt": f"2024-01-0{n + 1}T12:00:00+00:00",
            "file": f"images/img-{n}.jpg",
        }
        for n in range(len(photos))
    ]
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "meimages-export", "version": 1}))
        zf.writestr("pool.json", json.dumps({"images": images}))
        for n, data in enumerate(photos):
            zf.writestr(f"images/img-{n}.jpg", data)
    return out.getvalue()


async def rest_import(api: Api, owner: str, archive: bytes, **fields: str) -> tuple[int, dict]:
    response = await api.client.post(
        IMPORT_PATH,
        headers=api.headers(owner),
        data=fields,
        files={"file": ("export.zip", archive, "application/zip")},
    )
    return response.status_code, response.json()


async def test_an_archive_over_the_graphql_limit_imports_through_the_rest_door(api: Api) -> None:
    photos = [photo(n, 2600) for n in range(8)]
    archive = archive_of(photos)
    assert len(archive) > api.settings.max_upload_bytes + 256 * 1024
    owner = f"big-{uuid.uuid4().hex[:8]}"

    response = await api.client.post(
        "/graphql",
        headers=api.headers(owner, preflight=True),
        data={
            "operations": json.dumps(
                {
                    "query": "mutation($f: Upload!) { importMyData(file: $f) { __typename } }",
                    "variables": {"f": None},
                }
            ),
            "map": json.dumps({"0": ["variables.f"]}),
        },
        files={"0": ("export.zip", archive, "application/zip")},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"

    status, body = await rest_import(api, owner, archive)
    assert status == 201, body
    assert len(body["imageIds"]) == 8 and body["consentKept"] is False
    pool = (await pool_of(api, owner))["meImages"]
    assert sorted(i["label"] for i in pool) == [f"big {n}" for n in range(8)]
    assert not any(i["usage"]["aiReference"] for i in pool)


async def test_the_rest_door_refuses_hostile_archives_the_same_way(api: Api) -> None:
    owner = f"rest-{uuid.uuid4().hex[:8]}"
    hostile = archive_of([b"<html>not an image</html>"])
    status, body = await rest_import(api, owner, hostile, keepConsent="true")
    assert status == 400
    assert body["error"]["code"] == "INVALID_ARCHIVE"
    assert (body["error"]["problem"], body["error"]["entry"]) == (
        "image-rejected",
        "images/img-0.jpg",
    )
    assert (await pool_of(api, owner))["meImages"] == []
    status, body = await rest_import(api, owner, hostile, keepConsent="maybe")
    assert (status, body["error"]["code"]) == (400, "INVALID_INPUT")
    unauthenticated = await api.client.post(IMPORT_PATH, files={"file": ("a.zip", b"x")})
    assert unauthenticated.status_code == 401
    # The GraphQL door gives the same answer for the same archive.
    typed = await import_via_graphql(api, owner, hostile)
    assert (typed["problem"], typed["entry"]) == ("IMAGE_REJECTED", "images/img-0.jpg")


async def test_bodies_over_the_import_limit_are_refused_while_they_stream(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=sqlite_url(tmp_path / "m.db"), max_import_bytes=64 * 1024
    )
    async with running_api(settings, "sqlite") as small:
        status, body = await rest_import(small, "someone", bytes(400 * 1024))
    assert status == 413 and body["error"]["code"] == "TOO_LARGE"
