"""SQLite writers hold the write lock from their first statement on (their BEGIN IMMEDIATE
rides along with it), end with COMMIT or ROLLBACK, and readers never begin."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text

from storage.db import Database


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'writers.db'}")
    async with database.writing() as statements:
        await statements.execute(text("CREATE TABLE t (n INTEGER)"))
    yield database
    await database.dispose()


def _other_writer_refused(db: Database) -> bool:
    """Whether another connection is refused the write lock (it does not wait)."""
    path = db.engine.url.database
    assert path is not None
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return True
    else:
        other.execute("ROLLBACK")
        return False
    finally:
        other.close()


async def test_a_writer_holds_the_write_lock_from_its_first_statement(db: Database) -> None:
    async with db.writing() as statements:
        # A read first: a deferred BEGIN would take only a read lock here.
        await statements.execute(text("SELECT count(*) FROM t"))
        assert _other_writer_refused(db)
        await statements.execute(text("INSERT INTO t VALUES (1)"))
    assert not _other_writer_refused(db)


async def test_a_failed_writer_rolls_back_and_the_next_begins_again(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.writing() as statements:
            await statements.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("changed my mind")
    assert not _other_writer_refused(db)
    # A writer that sent nothing leaves nothing pending for the connection's next user.
    async with db.writing():
        pass
    with pytest.raises(RuntimeError):
        async with db.writing():
            raise RuntimeError("before any statement")
    async with db.session() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
        assert not _other_writer_refused(db)
    async with db.writing() as statements:
        await statements.execute(text("SELECT count(*) FROM t"))
        assert _other_writer_refused(db)


async def test_a_reader_takes_no_lock(db: Database) -> None:
    async with db.session() as session:
        await session.execute(text("SELECT count(*) FROM t"))
        assert not _other_writer_refused(db)
