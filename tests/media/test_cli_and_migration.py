"""`meimages purge` / `meimages gc` as an operator runs them, and migration 0002_media."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from api.settings import Settings
from storage import migrate
from storage.crypto import MasterKey
from storage.db import Database
from storage.tables import DataKey, MediaBlob, MediaObject, MeImage
from testbed import media_samples as samples
from testbed.plaintext_era import regress_to_plaintext
from testbed.server import MEIMAGES, clean_environment
from tests.support.app import running_api
from tests.support.databases import (
    BACKENDS,
    create_database,
    drop_database,
    sqlite_url,
    throwaway_database,
)

CREATE = """
  mutation($m: ID!) { createMeImage(input: {mediaId: $m, kind: FACE, label: "x"}) {
    ... on MeImage { id } } }"""
DELETE = "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }"


def cli(*args: str, db_url: str) -> str:
    env = clean_environment({"MEIMAGES_DATABASE_URL": db_url})
    done = subprocess.run(
        [str(MEIMAGES), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def seed(settings: Settings, backend: str) -> dict[str, Any]:
    """Through the real app: alice keeps one image and deletes another; bob has one."""
    async with running_api(settings, backend) as api:

        async def add(user: str, seed: int) -> dict[str, Any]:
            response = await api.rest_upload(samples.noisy_jpeg((96, 64), seed=seed), user=user)
            assert response.status_code == 201, response.text
            body: dict[str, Any] = response.json()
            created = await api.gql(CREATE, {"m": body["mediaId"]}, user=user)
            body["imageId"] = created["createMeImage"]["id"]
            return body

        alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
        kept = await add(alice, 1)
        dropped = await add(alice, 2)
        theirs = await add(bob, 3)
        deleted = await api.gql(DELETE, {"id": dropped["imageId"]}, user=alice)
        assert deleted["deleteMeImage"]["__typename"] == "DeletedMeImage"
    return {"alice": alice, "bob": bob, "kept": kept, "dropped": dropped, "theirs": theirs}


def on_terminal(args: list[str], answer: str, env: dict[str, str]) -> tuple[int, str]:
    """Run `meimages` with a pseudo-terminal as its stdin/stdout, typing `answer`."""
    main, side = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(MEIMAGES), *args], env=env, stdin=side, stdout=side, stderr=side
        )
        os.close(side)
        os.write(main, answer.encode())
        output = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed the terminal: it is done
                break
            if not chunk:
                break
            output += chunk
        return process.wait(timeout=60), output.decode(errors="replace")
    finally:
        os.close(main)


def blob_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


async def owner_counts(url: str, owner: str) -> dict[str, int]:
    db = Database(url)
    try:
        async with db.session() as session:
            out = {}
            for table in (MeImage, MediaObject, DataKey, MediaBlob):
                out[table.__tablename__] = (  # type: ignore[attr-defined]
                    await session.execute(
                        select(func.count()).select_from(table).where(table.owner_id == owner)
                    )
                ).scalar_one()
            return out
    finally:
        await db.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_purge_and_gc_commands(backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        url = asyncio.run(create_database("meimages_media"))
    else:
        url = sqlite_url(tmp_path / "meimages.db")
    try:
        _purge_and_gc_commands(backend, tmp_path, url)
    finally:
        if backend == "postgres":
            asyncio.run(drop_database(url))


def _purge_and_gc_commands(backend: str, tmp_path: Path, url: str) -> None:
    settings = Settings(data_dir=tmp_path, database_url=url)
    seeded = asyncio.run(seed(settings, backend))
    root = settings.resolved_blob_dir
    dropped = seeded["dropped"]["storagePath"]
    assert dropped in blob_files(root)

    out = cli("purge", "--deleted", "--older-than", "0", "--data-dir", str(tmp_path), db_url=url)
    assert "purged 1 deleted images" in out
    assert dropped in blob_files(root)  # only the collector deletes bytes
    out = cli("gc", "--data-dir", str(tmp_path), db_url=url)
    assert "deleted 0 orphaned blobs" in out  # inside the default one-hour grace
    out = cli("gc", "--grace", "0", "--sweep", "--data-dir", str(tmp_path), db_url=url)
    assert "deleted 3 orphaned blobs" in out
    files = blob_files(root)
    assert not any(f.startswith(dropped) for f in files)
    assert seeded["kept"]["storagePath"] in files

    alice = seeded["alice"]
    before = asyncio.run(owner_counts(url, alice))
    purge = ("purge", "--user", alice, "--data-dir", str(tmp_path))
    # No terminal to ask on, no --yes: refused, nothing deleted.
    env = clean_environment({"MEIMAGES_DATABASE_URL": url})
    done = subprocess.run(
        [str(MEIMAGES), *purge],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "pass --yes to confirm" in done.stderr, done.stderr
    # Asked on a terminal, answered wrongly: refused, nothing deleted.
    code, out = on_terminal([*purge], "bob\n", env)
    assert code == 2 and "Type the owner id" in out and "not confirmed" in out, out
    assert asyncio.run(owner_counts(url, alice)) == before
    # Answered with the owner id: purged.
    code, out = on_terminal([*purge], f"{alice}\n", env)
    assert code == 0, out
    assert f"purged owner {alice!r}: 1 images, 1 media, 3 blobs deleted" in out
    assert asyncio.run(owner_counts(url, alice)) == {
        "me_image": 0,
        "media_object": 0,
        "data_key": 0,
        "media_blob": 0,
    }
    files = blob_files(root)
    assert not any(f.startswith(seeded["kept"]["storagePath"]) for f in files)
    assert seeded["theirs"]["storagePath"] in files
    assert asyncio.run(owner_counts(url, seeded["bob"]))["media_object"] == 1


def test_purge_needs_a_target(tmp_path: Path) -> None:
    env = clean_environment()
    done = subprocess.run(
        [str(MEIMAGES), "purge", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--user ID" in done.stderr


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migration_registers_existing_blobs_as_referenced(
    backend: str, tmp_path: Path
) -> None:
    async with throwaway_database(backend, tmp_path, "meimages_media") as url:
        await _migration_registers_existing_blobs(Database(url))


async def _migration_registers_existing_blobs(db: Database) -> None:
    try:
        await migrate.upgrade(db, "0001")
        now = datetime.now(UTC)
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO owner (id, ai_uses_reference_images, created_at, updated_at) "
                    "VALUES ('old-owner', true, :now, :now)"
                ),
                {"now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO media_object (id, owner_id, sha256, content_type, byte_size, "
                    "width, height, storage_path, thumbnail_path, created_at) VALUES "
                    "('obj-1', 'old-owner', 'ab', 'image/jpeg', 1, 1, 1, 'o/x/ab/ab', "
                    "'o/x/ab/ab.thumb.webp', :now)"
                ),
                {"now": now},
            )
        await migrate.upgrade(db)
        async with db.session() as session:
            blobs = (await session.execute(select(MediaBlob))).scalars().all()
            obj = await session.get(MediaObject, "obj-1")
        assert {(b.key, b.owner_id, b.orphaned_at) for b in blobs} == {
            ("o/x/ab/ab", "old-owner", None),
            ("o/x/ab/ab.thumb.webp", "old-owner", None),
        }
        assert obj is not None and obj.medium_path is None
    finally:
        await db.dispose()


async def test_migrate_seals_plaintext_media_only_where_the_master_key_is(tmp_path: Path) -> None:
    """A migration run without the servers' master key (a job with another environment)
    must not make a key of its own and seal under it: it says so and leaves the media."""
    master = MasterKey.generate().to_b64()
    settings = Settings(data_dir=tmp_path, master_key=master)
    owner = f"legacy-{uuid.uuid4().hex[:6]}"
    async with running_api(settings, "sqlite") as api:
        response = await api.rest_upload(samples.noisy_jpeg((96, 64), seed=7), user=owner)
        assert response.status_code == 201, response.text
        planted = await regress_to_plaintext(api.stores, owner)

    def migrate_cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MEIMAGES), "migrate", "--data-dir", str(tmp_path)],
            env=clean_environment(env),
            capture_output=True,
            text=True,
            timeout=120,
        )

    keyless = await asyncio.to_thread(migrate_cli, {})
    assert keyless.returncode == 0, keyless.stderr
    assert "1 media objects are still stored in the clear" in keyless.stderr
    assert not (tmp_path / "master-keys.json").exists()
    assert all((tmp_path / "media" / name).read_bytes() == data for name, data in planted.items())

    sealed = await asyncio.to_thread(migrate_cli, {"MEIMAGES_MASTER_KEY": master})
    assert sealed.returncode == 0, sealed.stderr
    assert "sealed 3 stored objects of 1 media; 3 plaintext objects deleted" in sealed.stdout
    assert "sealing stored media [" in sealed.stderr and "] 1/1" in sealed.stderr
    assert not any((tmp_path / "media" / name).exists() for name in planted)
