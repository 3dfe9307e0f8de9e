"""Throwaway PostgreSQL databases for tests (127.0.0.1:5432, trust auth, as on CI)."""

from __future__ import annotations

import os
import uuid

import asyncpg

PG_ADMIN_DSN = os.environ.get("MEIMAGES_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


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
    name = url_or_name.rsplit("/", 1)[-1]
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
