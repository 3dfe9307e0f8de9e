"""SQLite writers hold the write lock from their first statement on (their BEGIN IMMEDIATE
rides along with it), end with COMMIT or ROLLBACK, and readers never begin. Statements
sent without reading their result wait for the transaction's next trip to the driver."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, insert, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from storage import sqlite_driver
from storage.db import Database
from storage.eventlog.log import _INSERT_EVENTS
from storage.migrate import upgrade
from storage.repositories.owners import (
    _SET_CONSENT_LAPSES_AT,
    _lock_statement,
    _locked_lapse_statement,
)
from storage.repositories.pool import _SET_AI_REFERENCE, _SET_SLOT
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


def _waiting(statements: Any) -> list[Any]:
    """What waits on the writer's connection for its next trip: (SQL, parameters, many)."""
    return list(sqlite_driver._one_trip(statements._connection).waiting)


async def _sent_by_each_path(
    db: Database, statement: Any, parameters: Any
) -> tuple[list[Any], list[Any]]:
    """What `send` queues for `statement`: prepared by `queue`, and executed by SQLAlchemy
    (which it is while anyone listens to the engine's statement events)."""
    async with db.writing() as statements:
        await statements.send(statement, parameters)
        prepared = _waiting(statements)
        await statements.execute(text("SELECT 1"))  # they run (and would fail here)
    engine = db.engine.sync_engine

    def listening(*_: Any) -> None:
        pass

    event.listen(engine, "before_cursor_execute", listening)
    try:
        async with db.writing() as statements:
            await statements.send(statement, parameters)
            executed = _waiting(statements)
    finally:
        event.remove(engine, "before_cursor_execute", listening)
    return prepared, executed


@pytest_asyncio.fixture
async def app_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'app.db'}")
    await upgrade(database)
    async with database.writing() as statements:
        await statements.execute(
            text(
                "INSERT INTO owner (id, ai_uses_reference_images, data_version, created_at,"
                " updated_at) VALUES ('ann', 1, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
    yield database
    await database.dispose()


async def test_a_prepared_statement_is_bound_as_sqlalchemy_binds_it(app_db: Database) -> None:
    """The hot writes' statements (the owner lock, a slot, an opt-in, a consent lapse,
    one and several events): what `queue` puts in the queue is what SQLAlchemy's
    execution would have, SQL and parameters, dates and JSON included."""
    now = datetime(2026, 12, 7, 12, 30, 15, 123456, tzinfo=UTC)
    event_row = {
        "owner_id": "ann",
        "space_id": "personal",
        "type": "PRIMARY_CHANGED",
        "image_id": "i1",
        "payload": {"slot": "face-ref", "previous_slot": None},
        "created_at": now,
        "image": {"id": "i1", "tags": ["a", "é"]},
    }
    cases = [
        (
            _lock_statement("sqlite"),
            {"owner_id": "ann", "first": 1, "bump": 1, "created": now, "updated": now},
        ),
        (_SET_SLOT, {"row_id": "i1", "slot": None, "now": now}),
        (_SET_AI_REFERENCE, {"row_id": "i1", "enabled": True, "until": now, "now": now}),
        (_SET_CONSENT_LAPSES_AT, {"owner_id": "ann", "lapses_at": None}),
        (_INSERT_EVENTS, [event_row]),
        (_INSERT_EVENTS, [event_row, event_row | {"image_id": "i2", "image": None}]),
    ]
    for statement, parameters in cases:
        before = len(app_db._prepared)
        prepared, executed = await _sent_by_each_path(app_db, statement, parameters)
        # Prepared (not executed by SQLAlchemy) the first time, and queued as SQLAlchemy
        # would have (the second time, while a listener is on the engine).
        assert len(app_db._prepared) == before + 1
        assert None not in app_db._prepared.values()
        assert prepared == executed, statement
        assert len(prepared) == 1


async def test_a_missing_parameter_fails_as_sqlalchemy_fails(app_db: Database) -> None:
    # SQLAlchemy's own error, unwrapped (its execution wraps it in a StatementError).
    with pytest.raises(SQLAlchemyError, match="A value is required for bind parameter 'slot'"):
        async with app_db.writing() as statements:
            await statements.send(_SET_SLOT, {"row_id": "i1", "now": datetime.now(UTC)})


async def test_what_sqlalchemy_must_execute_itself_it_still_executes(db: Database) -> None:
    """A statement with a default computed in Python is not prepared, and a full cache
    prepares no more: both are executed by SQLAlchemy, and both write."""
    metadata = MetaData()
    table = Table("d", metadata, Column("n", Integer), Column("at", String, default=lambda: "x"))
    async with db.writing() as statements:
        await statements.execute(text("CREATE TABLE d (n INTEGER, at TEXT)"))
    async with db.writing() as statements:
        await statements.send(insert(table), {"n": 1})
    assert list(db._prepared.values()) == [None]
    more = [text(f"INSERT INTO t VALUES ({n})") for n in range(sqlite_driver.MAX_PREPARED + 5)]
    async with db.writing() as statements:
        for statement in more:
            await statements.send(statement)
    assert len(db._prepared) == sqlite_driver.MAX_PREPARED
    assert await _count(db) == len(more)
    async with db.writing() as statements:
        rows = (await statements.execute(text("SELECT n, at FROM d"))).all()
    assert [tuple(r) for r in rows] == [(1, "x")]


async def test_a_read_without_sqlalchemy_reads_and_fails_as_through_it(
    db: Database, trips: list[tuple[str, int]]
) -> None:
    """`rows` of a writer: compiled once and read in one trip with what waits (not
    executed by SQLAlchemy), its rows what SQLAlchemy gives; a failure of a statement
    that waited is SQLAlchemy's IntegrityError, and nothing of the transaction stays."""
    table = Table("t", MetaData(), Column("n", Integer))
    read = select(table.c.n, func.count().over()).order_by(table.c.n)
    async with db.writing() as statements:
        await statements.execute(text("CREATE UNIQUE INDEX t_n ON t (n)"))
        await statements.send(insert(table), [{"n": 2}, {"n": 1}])
        assert await statements.rows(read, {}) == [(1, 2), (2, 2)]
        through_sqlalchemy = (await statements.execute(read)).all()
    assert [tuple(row) for row in through_sqlalchemy] == [(1, 2), (2, 2)]
    assert ("run", 1) in trips  # the read carried the insert
    assert any(key[0] is read for key in db._prepared)
    with pytest.raises(IntegrityError):
        async with db.writing() as statements:
            await statements.send(insert(table), {"n": 3})
            await statements.send(insert(table), {"n": 1})
            await statements.rows(read, {})
    assert await _count(db) == 2
    assert not _other_writer_refused(db)


async def test_a_prepared_read_gives_the_rows_sqlalchemy_gives(app_db: Database) -> None:
    """The owner lock that reads the next consent lapse (an upsert with RETURNING): read
    in one trip, without SQLAlchemy's execution, its date made as SQLAlchemy makes it."""
    lock = _locked_lapse_statement("sqlite")
    now = datetime(2026, 12, 7, 12, 30, 15, 123456, tzinfo=UTC)
    parameters = {"owner_id": "ann", "first": 1, "bump": 1, "created": now, "updated": now}
    async with app_db.writing() as statements:
        await statements.send(_SET_CONSENT_LAPSES_AT, {"owner_id": "ann", "lapses_at": now})
        fetched = await statements.rows(lock, parameters)
        executed = [tuple(row) for row in (await statements.execute(lock, parameters)).all()]
    assert fetched == executed
    assert fetched[0][0] is not None and fetched[0][0].replace(tzinfo=UTC) == now
    assert app_db._prepared[(lock, tuple(sorted(parameters)), False)] is not None
    # Being a read, it is never queued: sent, SQLAlchemy executes it.
    async with app_db.writing() as statements:
        await statements.send(lock, parameters)
    assert None not in app_db._prepared.values()
