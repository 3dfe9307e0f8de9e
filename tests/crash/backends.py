"""The three setups the crash test kills, and how to read what a killed server left.

Each setup is a database (SQLite file or a throwaway PostgreSQL database) and a blob
store (the local folder, or a bucket on a moto S3 server on loopback). The test reads
both directly, never through the server: after a SIGKILL, or while the server is
stopped with SIGSTOP, that is the state a restarted server would find.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from api.settings import Settings
from resolvers.operations.verify import violations as verify_violations
from storage.db import Database
from storage.integrity import DbState, read_state
from tests.support.databases import (
    PG_ADMIN_DSN,
    admin_dsn,
    create_database,
    database_name,
    drop_database,
    sqlite_url,
)
from tests.support.s3 import S3_PREFIX, S3Server

# Half-written files of the local store (storage.blobs._TMP_PREFIX); the collector's
# `discard_incomplete` owns them, so they are not "blobs nobody tracks".
LOCAL_TMP_PREFIX = ".tmp-"
# How many times to look for the dead server's PostgreSQL sessions to end (50 ms apart):
# a safety net against a hang, never a verdict about speed.
PG_SESSION_POLLS = 2400


@dataclass
class Blobs:
    keys: set[str]
    incomplete: int = 0


async def _read(url: str) -> DbState:
    """The state in one snapshot, read as `meimages verify` reads it."""
    db = Database(url)
    try:
        return await read_state(db)
    finally:
        await db.dispose()


class Backend:
    """One database + blob store combination: server environment and direct reads."""

    name = ""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def env(self) -> dict[str, str]:
        return {}

    def settings(self) -> Settings:
        """The settings a server of this backend runs with, for reading through its API."""
        return Settings(data_dir=self.data_dir, **self.setting_fields())

    def setting_fields(self) -> dict[str, Any]:
        return {}

    async def db_state(self) -> DbState:
        raise NotImplementedError

    def blobs(self) -> Blobs:
        root = self.data_dir / "media"
        keys, incomplete = set(), 0
        for path in root.rglob("*") if root.exists() else ():
            if not path.is_file():
                continue
            if path.name.startswith(LOCAL_TMP_PREFIX):
                incomplete += 1
            else:
                keys.add(path.relative_to(root).as_posix())
        return Blobs(keys, incomplete)

    async def after_kill(self) -> None:
        """Wait until nothing the dead server started can still change the state."""

    async def close(self) -> None:
        return None


class SqliteLocal(Backend):
    name = "sqlite-local"

    async def db_state(self) -> DbState:
        # A read transaction: a consistent snapshot even while the server is only stopped
        # (WAL mode: readers never wait for the writer's lock).
        return await _read(sqlite_url(self.data_dir / "meimages.db"))


class PostgresLocal(Backend):
    name = "postgres-local"

    def __init__(self, data_dir: Path, database_url: str) -> None:
        super().__init__(data_dir)
        self.database_url = database_url
        self.database = database_name(database_url)
        self.dsn = admin_dsn(database_url)

    def env(self) -> dict[str, str]:
        return {"MEIMAGES_DATABASE_URL": self.database_url}

    def setting_fields(self) -> dict[str, Any]:
        return {"database_url": self.database_url}

    async def db_state(self) -> DbState:
        # Read-only repeatable read: one snapshot, and no lock a stopped server holds
        # can make us wait.
        return await _read(self.database_url)

    async def after_kill(self) -> None:
        # A COMMIT the server sent just before it died still lands; wait until every
        # session of the dead server has ended, so the state we check is final.
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            for _ in range(PG_SESSION_POLLS):
                others = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = $1 AND pid <> pg_backend_pid()",
                    self.database,
                )
                if others == 0:
                    return
                await asyncio.sleep(0.05)
        finally:
            await conn.close()
        raise AssertionError(f"sessions of the killed server never ended in {self.database}")

    async def close(self) -> None:
        await drop_database(self.database)


class PostgresS3(PostgresLocal):
    name = "postgres-s3"

    def __init__(self, data_dir: Path, database_url: str, s3: S3Server) -> None:
        super().__init__(data_dir, database_url)
        self.s3 = s3
        self.bucket = s3.new_bucket("crash")
        self.client = s3.client()

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.s3.blob_env(self.bucket)}

    def setting_fields(self) -> dict[str, Any]:
        return {**super().setting_fields(), **self.s3.blob_settings(self.bucket)}

    def blobs(self) -> Blobs:
        # S3 PUTs are atomic: an object is listed whole or not at all.
        keys = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{S3_PREFIX}/"
        ):
            keys |= {item["Key"].removeprefix(f"{S3_PREFIX}/") for item in page.get("Contents", [])}
        return Blobs(keys)


BACKENDS = ("sqlite-local", "postgres-local", "postgres-s3")


async def open_backend(name: str, data_dir: Path, s3: S3Server | None) -> Backend:
    if name == "sqlite-local":
        return SqliteLocal(data_dir)
    url = await create_database("meimages_crash")
    if name == "postgres-local":
        return PostgresLocal(data_dir, url)
    assert s3 is not None
    return PostgresS3(data_dir, url, s3)


def violations(db: DbState, blobs: Blobs) -> list[str]:
    """What must hold whenever the server is dead (or frozen): `meimages verify`'s rules."""
    return verify_violations(db, blobs.keys)
