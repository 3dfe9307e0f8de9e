"""SQLite writers hold the write lock from their first statement on (their BEGIN IMMEDIATE
rides along with it), end with COMMIT or ROLLBACK, and readers never begin. Statements
sent without reading their result wait for the transaction's next trip to the driver."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from tests.support.sqlite_trips import record_trips


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


async def _count(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(text("SELECT count(*) FROM t"))).scalar_one())


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    return record_trips(monkeypatch)


async def test_sent_statements_ride_with_the_next_trip_in_order(
    db: Database, trips: list[tuple[str, int]]
) -> None:
    async with db.writing() as statements:
        await statements.send(text("INSERT INTO t VALUES (1)"))
        await statements.send(text("UPDATE t SET n = n + 10"))
        assert trips == []  # nothing has gone to the driver yet
        # The next statement runs after them, and sees what they did.
        seen = (await statements.execute(text("SELECT n FROM t"))).scalar_one()
        assert seen == 11
        await statements.send(text("INSERT INTO t VALUES (2)"))
    assert trips == [("run", 2), ("commit", 1)]  # the last one went with the COMMIT
    assert await _count(db) == 2
    assert not _other_writer_refused(db)


async def test_a_writer_that_only_sends_takes_the_lock_and_commits_in_one_trip(
    db: Database, trips: list[tuple[str, int]]
) -> None:
    async with db.writing() as statements:
        await statements.send(text("INSERT INTO t VALUES (1)"))
        # Several rows: one executemany, which waits like any statement.
        await statements.send(text("INSERT INTO t VALUES (:n)"), [{"n": 2}, {"n": 3}])
    assert trips == [("commit", 2)]
    assert await _count(db) == 3
    assert not _other_writer_refused(db)


async def test_a_sent_statement_that_fails_fails_its_transaction_and_loses_nothing(
    db: Database,
) -> None:
    async with db.writing() as statements:
        await statements.execute(text("CREATE UNIQUE INDEX t_n ON t (n)"))
        await statements.execute(text("INSERT INTO t VALUES (1)"))
    # It fails with the COMMIT it rode with: nothing of the transaction stays, the lock
    # is released, and the connection serves the next writer.
    with pytest.raises(IntegrityError):
        async with db.writing() as statements:
            await statements.send(text("INSERT INTO t VALUES (2)"))
            await statements.send(text("INSERT INTO t VALUES (1)"))
    assert await _count(db) == 1
    assert not _other_writer_refused(db)
    # It fails with the next statement: the same.
    with pytest.raises(IntegrityError):
        async with db.writing() as statements:
            await statements.send(text("INSERT INTO t VALUES (3)"))
            await statements.send(text("INSERT INTO t VALUES (1)"))
            await statements.execute(text("SELECT count(*) FROM t"))
    assert await _count(db) == 1
    assert not _other_writer_refused(db)
    async with db.writing() as statements:
        await statements.send(text("INSERT INTO t VALUES (4)"))
    assert await _count(db) == 2


async def test_a_rollback_drops_what_was_sent(db: Database, trips: list[tuple[str, int]]) -> None:
    with pytest.raises(RuntimeError):
        async with db.writing() as statements:
            await statements.send(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("changed my mind")
    assert trips == []  # nothing was ever run
    async with db.writing() as statements:
        await statements.execute(text("INSERT INTO t VALUES (2)"))
    assert await _count(db) == 1
    assert not _other_writer_refused(db)


async def test_a_sent_statement_is_seen_by_sqlalchemy_when_sent(db: Database) -> None:
    """Statement counters (tests/api/test_write_statements.py) see it as any other."""
    seen: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        async with db.writing() as statements:
            await statements.send(text("INSERT INTO t VALUES (1)"))
            assert seen == ["INSERT INTO t VALUES (1)"]
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
