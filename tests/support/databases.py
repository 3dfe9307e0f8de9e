"""Databases for tests: SQLite files, and throwaway PostgreSQL databases (127.0.0.1:5432,
trust auth, as on CI)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg

from storage.db import Database

# Every storage and API test runs on both.
BACKENDS = ("sqlite", "postgres")
PG_ADMIN_DSN = os.environ.get("MEIMAGES_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def database_url(backend: str, tmp: Path, pg_database: str) -> str:
    """A SQLite file in `tmp`, or the given PostgreSQL database."""
    return sqlite_url(tmp / "meimages.db") if backend == "sqlite" else pg_database


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def admin_dsn(url: str) -> str:
    """A plain asyncpg DSN (admin role) for the database of a SQLAlchemy URL."""
    return PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + database_name(url)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(prefix: str = "meimages_test") -> str:
    """Create a fresh database and return its SQLAlchemy (asyncpg) URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def drop_database(url_or_name: str) -> None:
    """Drop a database made by `create_database`, given its URL or its name."""
    await _admin(f'DROP DATABASE IF EXISTS "{database_name(url_or_name)}" WITH (FORCE)')


@asynccontextmanager
async def postgres_database(prefix: str = "meimages_test") -> AsyncIterator[str]:
    """The URL of a fresh PostgreSQL database, dropped afterwards (its connections cut)."""
    url = await create_database(prefix)
    try:
        yield url
    finally:
        await drop_database(url)


@contextmanager
def postgres_database_sync(prefix: str = "meimages_test") -> Iterator[str]:
    """`postgres_database` for synchronous fixtures (each step on an event loop of its own)."""
    url = asyncio.run(create_database(prefix))
    try:
        yield url
    finally:
        asyncio.run(drop_database(url))


@asynccontextmanager
async def throwaway_database(
    backend: str, tmp: Path, prefix: str = "meimages_test"
) -> AsyncIterator[str]:
    """The URL of a database of its own: a SQLite file in `tmp`, or a fresh PostgreSQL
    database dropped afterwards."""
    if backend == "sqlite":
        yield sqlite_url(tmp / "meimages.db")
        return
    async with postgres_database(prefix) as url:
        yield url


@asynccontextmanager
async def database_of_its_own(
    backend: str, tmp: Path, prefix: str = "meimages_test"
) -> AsyncIterator[Database]:
    """A storage `Database` on a `throwaway_database`, disposed (then dropped) afterwards."""
    async with throwaway_database(backend, tmp, prefix) as url:
        db = Database(url)
        try:
            yield db
        finally:
            await db.dispose()
