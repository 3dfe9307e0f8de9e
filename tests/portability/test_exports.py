"""Exports from GraphQL: progress while the build runs, a signed URL that only opens the
owner's finished archive while it lives, failures recorded, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import shutil
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import update

from resolvers.lifecycle.purge import purge_owner
from storage.blobs import BlobStore
from storage.crypto import DecryptionError
from storage.tables import ExportJob, utcnow
from testbed.images import jpeg
from tests.portability.archives import (
    EXPORT,
    JOB,
    document,
    export_via_graphql,
    finished_export,
)
from tests.support.app import BASE_URL, Api


class GatedBlobs:
    """The real store, whose `get` stops before the read numbered `gate_at` until opened."""

    def __init__(self, real: BlobStore, gate_at: int) -> None:
        self._real = real
        self._gate_at = gate_at
        self.reads = 0
        self.waiting = asyncio.Event()
        self.open = asyncio.Event()

    async def get(self, key: str) -> bytes | None:
        self.reads += 1
        if self.reads == self._gate_at:
            self.waiting.set()
            await asyncio.wait_for(self.open.wait(), timeout=60)
        return await self._real.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


async def test_progress_is_visible_while_the_archive_is_built(api: Api) -> None:
    owner = f"exporter-{uuid.uuid4().hex[:8]}"
    for seed in range(12):
        await api.upload_image(jpeg(100 + seed, (64, 48)), user=owner)
    real = api.stores.blobs
    gated = GatedBlobs(real, gate_at=11)
    api.stores.blobs = cast(BlobStore, gated)
    try:
        started = (await api.gql(EXPORT, user=owner))["exportMyData"]
        await asyncio.wait_for(gated.waiting.wait(), timeout=60)
        # Ten images are written; the eleventh waits at the gate.
        job = (await api.gql(JOB, {"id": started["id"]}, user=owner))["dataExport"]
        assert (job["status"], job["imagesDone"], job["imagesTotal"]) == ("RUNNING", 10, 12)
        assert job["downloadUrl"] is None
        # Asking again while it runs answers with the running export, not a second build.
        again = (await api.gql(EXPORT, user=owner))["exportMyData"]
        assert (again["id"], again["imagesDone"]) == (started["id"], 10)
        gated.open.set()
        done = await finished_export(api, owner, started["id"])
    finally:
        gated.open.set()
        api.stores.blobs = real
    assert (done["status"], done["imagesDone"], done["imagesTotal"]) == ("DONE", 12, 12)
    assert done["completedAt"] is not None


async def test_the_download_url_opens_only_this_finished_archive(api: Api) -> None:
    owner, stranger = f"exporter-{uuid.uuid4().hex[:8]}", f"stranger-{uuid.uuid4().hex[:8]}"
    await api.upload_image(jpeg(7), user=owner, input={"kind": "FACE"})
    job, archive = await export_via_graphql(api, owner)
    assert len(document(archive, "pool.json")["images"]) == 1
    url: str = job["downloadUrl"]
    assert url.startswith(f"{BASE_URL}/exports/{job['id']}/archive.zip?exp=")

    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    other_id = url.replace(job["id"], str(uuid.uuid4()))
    no_signature = url.split("?")[0]
    for bad in (tampered, other_id, no_signature):
        assert (await api.client.get(bad)).status_code == 404, bad

    # Other owners, and other spaces of the same owner, cannot even see the job.
    assert (await api.gql(JOB, {"id": job["id"]}, user=stranger))["dataExport"] is None
    listed = "{ dataExports { id status } }"
    assert (await api.gql(listed, user=owner))["dataExports"] == [
        {"id": job["id"], "status": "DONE"}
    ]
    assert (await api.gql(listed, user=stranger))["dataExports"] == []
    assert (await api.gql(listed, user=owner, space="brand"))["dataExports"] == []
    in_space = await api.gql(JOB, {"id": job["id"]}, user=owner, space="brand")
    assert in_space["dataExport"] is None

    # Once the archive expires, the job says so and the URL stops working.
    async with api.stores.db.transaction() as session:
        await session.execute(
            update(ExportJob)
            .where(ExportJob.id == job["id"])  # type: ignore[arg-type]
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = (await api.gql(JOB, {"id": job["id"]}, user=owner))["dataExport"]
    assert (expired["status"], expired["downloadUrl"]) == ("EXPIRED", None)
    assert (await api.client.get(url)).status_code == 404
    # The next export removes expired archives and their jobs.
    await export_via_graphql(api, owner)
    assert (await api.gql(JOB, {"id": job["id"]}, user=owner))["dataExport"] is None
    assert not (api.stores.config.portability.export_dir / f"{job['id']}.zip").exists()


async def test_a_failed_build_is_recorded_and_leaves_no_file(api: Api) -> None:
    owner = f"exporter-{uuid.uuid4().hex[:8]}"
    await api.upload_image(jpeg(8), user=owner)
    real = api.stores.blobs

    class Unreachable:
        async def get(self, key: str) -> bytes | None:
            raise OSError("the bucket is unreachable")

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    api.stores.blobs = cast(BlobStore, Unreachable())
    try:
        started = (await api.gql(EXPORT, user=owner))["exportMyData"]
        job = await finished_export(api, owner, started["id"])
    finally:
        api.stores.blobs = real
    assert job["status"] == "FAILED" and job["downloadUrl"] is None
    assert "bucket" not in job["failure"]  # the cause is logged, not shown
    leftovers = [
        p.name for p in api.stores.config.portability.export_dir.glob(f"*{started['id']}*")
    ]
    assert leftovers == []


async def test_purging_an_owner_removes_their_archives(api: Api) -> None:
    owner = f"leaver-{uuid.uuid4().hex[:8]}"
    await api.upload_image(jpeg(9), user=owner, input={"label": "private"})
    job, _archive = await export_via_graphql(api, owner)
    path = api.stores.config.portability.export_dir / f"{job['id']}.zip"
    assert path.is_file()
    await purge_owner(api.stores, owner)
    assert not path.exists()
    assert (await api.client.get(job["downloadUrl"])).status_code == 404
    assert (await api.gql(JOB, {"id": job["id"]}, user=owner))["dataExport"] is None


async def test_an_empty_pool_exports_an_archive_that_says_so(api: Api) -> None:
    owner = f"newcomer-{uuid.uuid4().hex[:8]}"
    job, archive = await export_via_graphql(api, owner)
    assert (job["imagesTotal"], job["imagesDone"]) == (0, 0)
    assert document(archive, "pool.json")["images"] == []
    assert document(archive, "manifest.json")["counts"]["images"] == 0


async def test_an_archive_waiting_for_download_is_sealed_and_shredded_with_its_owner(
    api: Api, tmp_path: Path
) -> None:
    owner = f"sealed-{uuid.uuid4().hex[:8]}"
    label = f"label-{uuid.uuid4().hex}"
    image = await api.upload_image(jpeg(11), user=owner, input={"label": label})
    original = (await api.client.get(image["publicUrl"])).content
    job, archive = await export_via_graphql(api, owner)
    # What the download gives is the archive itself, with the picture as served...
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        entries = [opened.read(name) for name in opened.namelist()]
    assert original in entries
    # ...while the file the server keeps until then shows neither the picture nor the
    # label, nor that it is a zip.
    path = api.stores.config.portability.export_dir / f"{job['id']}.zip"
    stored = path.read_bytes()
    assert not stored.startswith(b"PK") and b"PK\x03\x04" not in stored
    assert original[:64] not in stored and original[-64:] not in stored
    assert label.encode() not in stored
    kept = tmp_path / path.name
    shutil.copyfile(path, kept)
    await purge_owner(api.stores, owner)
    # A copy taken before the purge no longer opens, for anyone.
    with pytest.raises(DecryptionError):
        await api.stores.sealed.file_reader(owner, kept, kept.name)
