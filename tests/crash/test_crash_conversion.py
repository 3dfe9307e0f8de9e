"""Crash test of the conversion: SIGKILL `meimages migrate` while it seals plaintext media.

An installation of the plaintext era is made through today's upload path and turned back
into that layout (`testbed.plaintext_era`). Then `meimages migrate` runs as the
operator runs it (a process of its own, forked from one that has imported it already:
`testbed.forkserver`) and is killed once it has reported progress (one or two lines
of its progress output, read as it writes them; where exactly the kill lands is wherever
the process has got to), again and again, and finally runs to its end. The kill is decided by what it reported, never by
a clock. After every kill nothing may be inconsistent (the upload crash test's checks:
no row points at a missing blob, no blob is untracked) and every object a row names must
open for its owner; at the end nothing plaintext is left, and every rendition reads back
byte-identical to what it was before. Runs on the three backends of the upload test.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from storage.tables import MediaObject, MediaVariant
from testbed import media_samples as samples
from testbed.forkserver import Forked, ForkServer
from testbed.plaintext_era import regress_to_plaintext
from testbed.server import clean_environment
from tests.crash.backends import BACKENDS, Backend, open_backend, violations
from tests.crash.sealing_check import unopenable_objects
from tests.support.app import running_api

OWNERS = 2
IMAGES_PER_OWNER = 8
# Kills before the run that is let finish; each comes after at least one progress line,
# so every run seals at least one object and the loop always ends.
KILLS = 4
PROGRESS = "sealing stored media"
# Safety net against a hang, not a verdict about speed.
RUN_TIMEOUT_S = 300

TRANSFORM = """query($id: ID!) { meImage(id: $id) {
  transformUrl(width: 90, fit: INSIDE, format: WEBP) } }"""


async def plaintext_installation(backend: Backend) -> dict[tuple[str, str], bytes]:
    """Owners' images (with a cached transform each) stored the plaintext era's way;
    (media object id, rendition) -> its bytes."""
    expected: dict[tuple[str, str], bytes] = {}
    settings = backend.settings()
    async with running_api(settings, backend.name) as api:
        owners = [f"crash-{index}-{uuid.uuid4().hex[:6]}" for index in range(OWNERS)]
        for index in range(OWNERS * IMAGES_PER_OWNER):
            owner = owners[index % OWNERS]
            data = samples.noisy_jpeg((160 + index, 120), seed=900 + index)
            image = await api.upload(data, user=owner, fields="... on MeImage { id }")
            url = (await api.gql(TRANSFORM, {"id": image["id"]}, user=owner))["meImage"]
            assert (await api.client.get(url["transformUrl"])).status_code == 200
        for owner in owners:
            await regress_to_plaintext(api.stores, owner)
        async with api.stores.db.session() as session:
            for obj in (await session.execute(select(MediaObject))).scalars():
                for role, path in (
                    ("original", obj.storage_path),
                    ("thumbnail", obj.thumbnail_path),
                    ("medium", obj.medium_path),
                ):
                    assert path is not None and path.startswith("o/")
                    stored = await api.stores.blobs.get(path)
                    assert stored is not None
                    expected[(obj.id, role)] = stored
            variants = await session.execute(select(MediaVariant))
            for variant in variants.scalars():
                stored = await api.stores.blobs.get(variant.storage_path)
                assert stored is not None
                expected[(variant.media_object_id, variant.spec)] = stored
    assert len(expected) == OWNERS * IMAGES_PER_OWNER * 4
    return expected


def migrate_args(backend: Backend) -> list[str]:
    return ["migrate", "--data-dir", str(backend.data_dir)]


def migrate_env(backend: Backend) -> dict[str, str]:
    return clean_environment({"MEIMAGES_LOG_LEVEL": "warning", **backend.env()})


def start_migrate(forks: ForkServer, backend: Backend, run: Path) -> tuple[Forked, int]:
    """`meimages migrate` started with its stderr in a FIFO; the FIFO's read end (EOF
    once the process has ended)."""
    fifo = run.with_suffix(".stderr")
    os.mkfifo(fifo)
    # Opened before the process is (a FIFO with no reader cannot be opened to write),
    # then made blocking: reads wait for its next line or its end.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        proc = forks.fork(migrate_args(backend), migrate_env(backend), run, fifo)
    except BaseException:
        os.close(reader)
        raise
    os.set_blocking(reader, True)
    return proc, reader


def read_progress(reader: int, lines: int) -> int:
    """Read the progress output until `lines` progress lines came or the run ended."""
    seen = 0
    with open(reader, errors="replace", closefd=False) as stderr:
        while seen < lines:
            line = stderr.readline()
            if not line:
                break
            seen += line.startswith(PROGRESS)
    return seen


def run_migrate(forks: ForkServer, backend: Backend) -> subprocess.CompletedProcess[str]:
    return forks.run(migrate_args(backend), migrate_env(backend), RUN_TIMEOUT_S)


async def check(backend: Backend, when: str) -> list[str]:
    await backend.after_kill()
    db, blobs = await backend.db_state(), backend.blobs()
    found = [f"{when}: {v}" for v in violations(db, blobs)]
    return found + [f"{when}: {v}" for v in await unopenable_objects(backend.settings())]


async def read_back(backend: Backend, expected: dict[tuple[str, str], bytes]) -> list[str]:
    """Every rendition through the sealed store's API, against the bytes it had."""
    found: list[str] = []
    async with running_api(backend.settings(), backend.name) as api:
        async with api.stores.db.session() as session:
            objects = {o.id: o for o in (await session.execute(select(MediaObject))).scalars()}
            variants = (await session.execute(select(MediaVariant))).scalars().all()
        names: dict[tuple[str, str], tuple[str, str]] = {}
        for obj in objects.values():
            names[(obj.id, "original")] = (obj.owner_id, obj.storage_path)
            names[(obj.id, "thumbnail")] = (obj.owner_id, obj.thumbnail_path)
            names[(obj.id, "medium")] = (obj.owner_id, obj.medium_path or "")
        for variant in variants:
            owner = objects[variant.media_object_id].owner_id
            names[(variant.media_object_id, variant.spec)] = (owner, variant.storage_path)
        assert names.keys() == expected.keys()
        for which, (owner, name) in names.items():
            if not name.startswith("s/"):
                found.append(f"{which} is still under a plaintext-era name {name}")
            if await api.stores.sealed.get(owner, name) != expected[which]:
                found.append(f"{which} reads back different")
        listed = await api.blob_keys()
        found += [f"plaintext object left behind: {key}" for key in listed if key.startswith("o/")]
        async with api.stores.db.session() as session:
            unsealed = select(col(MediaObject.id)).where(col(MediaObject.storage_path).like("o/%"))
            found += [
                f"object {oid} unsealed" for oid in (await session.execute(unsealed)).scalars()
            ]
    return found


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_sigkill_during_conversion_loses_nothing_and_seals_everything(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest, forks: ForkServer
) -> None:
    s3 = request.getfixturevalue("s3") if backend_name.endswith("s3") else None
    backend = await open_backend(backend_name, tmp_path, s3)
    rnd = random.Random(20261206)
    problems: list[str] = []
    kills = 0
    try:
        expected = await plaintext_installation(backend)
        problems += await check(backend, "before the conversion")
        for kill in range(1, KILLS + 1):
            proc, progress = start_migrate(forks, backend, tmp_path / f"migrate-{kill}")
            try:
                seen = await asyncio.to_thread(read_progress, progress, rnd.randint(1, 2))
                if seen == 0 or proc.poll() is not None:
                    break  # it finished first: nothing was left to kill it in
                proc.kill()  # SIGKILL
                kills += 1
            finally:
                proc.kill()
                os.close(progress)
            problems += await check(backend, f"after kill {kill}")
        final = await asyncio.to_thread(run_migrate, forks, backend)
        out, err = final.stdout, final.stderr
        assert final.returncode == 0, err[-2000:]
        assert "sealed" in out and "plaintext objects deleted" in out, out
        problems += await check(backend, "after the last run")
        problems += await read_back(backend, expected)
        # Once everything is sealed, running it again does nothing.
        again = await asyncio.to_thread(run_migrate, forks, backend)
        out, err = again.stdout, again.stderr
        assert again.returncode == 0 and "latest schema" in out and "sealed" not in out, out + err
        assert PROGRESS not in err, err
    finally:
        await backend.close()
    print(f"\nconversion crash test [{backend_name}]: {kills} SIGKILLs mid-conversion")
    assert kills >= 2, "the conversion ended before it could be killed twice"
    assert problems == [], problems[:20]
