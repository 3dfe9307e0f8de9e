"""What a database keeps on disk: its raw files, for tests that grep them for plaintext.

SQLite: the database file and its WAL, checkpointed first. PostgreSQL: the files of the
named tables and of their TOAST tables, after a CHECKPOINT (the test server runs on this
machine, so its data directory is readable).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import text

from tests.support.app import Api


async def raw_database_files(api: Api, tables: Sequence[str]) -> list[Path]:
    db = api.app.state.server.stores.db
    if api.backend == "sqlite":
        async with db.engine.connect() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        files = list(api.settings.data_dir.rglob("meimages.db*"))
    else:
        async with db.engine.connect() as conn:
            await conn.execute(text("CHECKPOINT"))
            data_dir = (await conn.execute(text("SHOW data_directory"))).scalar_one()
            relations = (
                await conn.execute(
                    text(
                        "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                        "WHERE c.relname = ANY(:tables) OR c.oid IN ("
                        "  SELECT reltoastrelid FROM pg_class WHERE relname = ANY(:tables))"
                    ),
                    {"tables": list(tables)},
                )
            ).scalars()
            files = [Path(data_dir) / relation for relation in relations if relation]
    assert files and all(f.exists() for f in files), files
    assert sum(f.stat().st_size for f in files) > 0
    return files


def files_holding(files: Sequence[Path], needle: bytes) -> list[Path]:
    return [f for f in files if needle in f.read_bytes()]
