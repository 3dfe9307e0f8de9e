"""Async engine and sessions, picked by database URL (SQLite default, PostgreSQL to scale out)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Executable, event
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.exc import DisconnectionError, InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.errors import StoreUnavailable, database_failure
from storage.sqlite_driver import PreparedStatements, begin_immediate, fetch, one_trip_dbapi, queue
from storage.sqlite_driver import send as sqlite_send

# While PostgreSQL is down a request must fail in seconds, not hang: connecting gives up
# after CONNECT_TIMEOUT_S, and waiting for a pooled connection after POOL_TIMEOUT_S.
CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 10

# A pooled PostgreSQL connection that the server has closed (a restart,
# `pg_terminate_backend`, an idle timeout) must not reach a request. SQLAlchemy's
# `pool_pre_ping` asks the server on every checkout: BEGIN, an empty query and ROLLBACK,
# three round trips that cost a cached read a fifth of its server time and PostgreSQL
# two fifths of its share (bench.workers). `_Liveness` asks only where it is needed: a
# connection the driver already knows is closed is replaced without a word to the
# server, and one that sat in the pool for PING_AFTER_IDLE_S or more is pinged first (a
# link dropped without a close says nothing until it is used). Under load a connection
# is back in use within milliseconds and is never pinged.
PING_AFTER_IDLE_S = 1.0


def normalize_url(url: str) -> str:
    """Accept plain `sqlite:`/`postgresql:` URLs and pick the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver never emits BEGIN: writers send BEGIN IMMEDIATE (see `writing`).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class _Liveness:
    """The pool's checkin and checkout listeners that keep dead connections from requests
    (see PING_AFTER_IDLE_S)."""

    _IDLE_SINCE = "meimages_idle_since"

    def __init__(self, engine: AsyncEngine, ping_after_idle_s: float) -> None:
        self._dialect = engine.dialect
        self._ping_after = ping_after_idle_s
        pool = engine.sync_engine.pool
        # Before any other checkout listener (metrics count a checkout that stands).
        event.listen(pool, "checkout", self.checked_out, insert=True)
        event.listen(pool, "checkin", self.checked_in)

    def checked_in(self, _dbapi_connection: Any, record: Any) -> None:
        record.info[self._IDLE_SINCE] = time.monotonic()

    def checked_out(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # A new connection has no timestamp (the pool clears `info` on reconnecting).
        idle_since = record.info.pop(self._IDLE_SINCE, None)
        if dbapi_connection.driver_connection.is_closed():
            # The pool replaces this one connection and runs the listeners again.
            raise DisconnectionError("the server closed this pooled connection")
        if idle_since is None or time.monotonic() - idle_since < self._ping_after:
            return
        try:
            self._dialect.do_ping(dbapi_connection)
        except Exception as error:
            # As `pool_pre_ping` does: every connection older than now is replaced.
            raise InvalidatePoolError("a pooled connection did not answer") from error


@contextmanager
def _translated_failures() -> Iterator[None]:
    try:
        yield
    except StoreUnavailable:
        raise
    except Exception as error:
        failure = database_failure(error)
        if failure is None:
            raise
        raise failure from error


class TableStatements:
    """Statements built on tables (Core, not entities), sent on the transaction's
    connection instead of through its session.

    Through the session each statement pays for the session's bookkeeping (its bind
    lookup, the ORM plugin check, the connection of its transaction looked up again);
    on the connection it costs what SQLAlchemy Core costs, in the same transaction. The
    session would not flush before such a statement either (it autoflushes only for ORM
    statements), nor does it see what they change: the callers keep the objects they
    loaded in step (see `PoolRepository.set_slot`)."""

    __slots__ = ("_connection", "_prepared", "_sqlite_writer", "dialect", "session")

    def __init__(
        self,
        session: AsyncSession,
        connection: AsyncConnection | None = None,
        *,
        sqlite_writer: bool = False,
        prepared: PreparedStatements | None = None,
    ) -> None:
        self.session = session
        self._connection = connection
        bind = session.bind
        self.dialect = bind.dialect.name if bind is not None else "sqlite"
        # A SQLite writer's (`Database.writing`): its statements may wait for a trip.
        self._sqlite_writer = sqlite_writer
        # Its pool's statements compiled for `sqlite_driver.queue` and `fetch`.
        self._prepared: PreparedStatements = prepared if prepared is not None else {}

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        return await (await self._connected()).execute(statement, parameters)

    async def rows(
        self, statement: Executable, parameters: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """The rows `statement` reads, as tuples of its columns. A SQLite writer's read
        is compiled once and runs without SQLAlchemy's execution where it can be
        (`storage.sqlite_driver.fetch`), with what waits for its trip."""
        connection = await self._connected()
        if self._sqlite_writer:
            found = await fetch(connection, statement, parameters, self._prepared)
            if found is not None:
                return found
        return (await connection.execute(statement, parameters)).all()

    async def send(self, statement: Executable, parameters: Any = None) -> None:
        """`execute` for a statement whose result is not read (an UPDATE, an INSERT
        without RETURNING). A SQLite writer's waits for the transaction's next trip to
        the driver thread (`storage.sqlite_driver.send`): if it fails, the next statement
        or the COMMIT raises its error; it is compiled once and not executed by SQLAlchemy
        each time where it can be (`storage.sqlite_driver.queue`). Elsewhere it is sent
        now."""
        connection = await self._connected()
        if self._sqlite_writer:
            if not queue(connection, statement, parameters, self._prepared):
                await sqlite_send(connection, statement, parameters)
        else:
            await connection.execute(statement, parameters)

    async def _connected(self) -> AsyncConnection:
        connection = self._connection
        if connection is None:
            # Once: the session's connection (it begins the transaction if the session
            # has not yet).
            connection = self._connection = await self.session.connection()
        return connection


# PostgreSQL connections one process holds at most; up to KEPT_CONNECTIONS of them stay
# open, the rest are opened under load and closed when returned. Keeping fewer makes a
# steady load open and close a connection per request: with a third of 15 kept, two
# workers served no more than one.
DEFAULT_MAX_CONNECTIONS = 30
KEPT_CONNECTIONS = 10


class Database:
    """One engine and its session factory."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        ping_after_idle_s: float = PING_AFTER_IDLE_S,
    ) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            kept = max(1, min(max_connections, KEPT_CONNECTIONS))
            kwargs.update(
                pool_size=kept,
                max_overflow=max(0, max_connections - kept),
                pool_timeout=POOL_TIMEOUT_S,
                connect_args={"timeout": CONNECT_TIMEOUT_S},
            )
        else:
            # Readers run in autocommit and writers always end with COMMIT or ROLLBACK
            # (see `transaction`), so the pool's reset-on-return ROLLBACK is a wasted trip.
            kwargs.update(pool_reset_on_return=None, module=one_trip_dbapi())
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if not self.is_sqlite:
            _Liveness(self.engine, ping_after_idle_s)
        else:
            # A pool event: an engine-level one (such as "begin") would have every
            # execution walk the engine's listener lists, a few dozen Python calls each.
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # The same pool, for single statements outside a transaction (`read_row`).
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._stamp_conn: sqlite3.Connection | None = None
        # SQLite has one write lock for the whole file. Writers of this process queue
        # here instead of in SQLite's busy handler, which polls with sleeps of up to
        # 100 ms and let 32 concurrent writers spend most of their time asleep.
        self._writers = asyncio.Lock() if self.is_sqlite else None
        # The writers' statements compiled once (`sqlite_driver.queue` and `fetch`).
        self._prepared: PreparedStatements = {}

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; a lost or full database surfaces as `StoreUnavailable`."""
        with _translated_failures():
            async with self._sessions() as session:
                yield session

    async def read_row(self, statement: Executable) -> Any:
        """The first row of one read statement, or None, run outside any transaction:
        on PostgreSQL no BEGIN before it and no ROLLBACK after (two round trips fewer than
        a session's read). One statement sees one snapshot either way. A lost or full
        database surfaces as `StoreUnavailable`."""
        with _translated_failures():
            if self.is_sqlite:  # readers are in autocommit already (`_sqlite_pragmas`)
                async with self._sessions() as session:
                    return (await session.execute(statement)).first()
            async with self._autocommit.connect() as connection:
                return (await connection.execute(statement)).first()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits on success and rolls back on any exception."""
        async with self.writing() as statements:
            yield statements.session

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[TableStatements]:
        """`transaction`, with its connection for statements on tables (`TableStatements`).

        The transaction is the connection's. Its session joins it only if something uses
        the session (an ORM read, a flush, a data key to load): a write whose statements
        all go to the connection, such as a slot swap, skips the session's begin, flush
        and commit, which cost more Python than its SQL. The session never commits the
        connection's transaction ("rollback_only"): `writing` does, after flushing it."""
        with _translated_failures():
            async with self._writers or nullcontext(), self.engine.connect() as connection:
                await connection.begin()
                if self.is_sqlite:
                    # Take SQLite's write lock up front so read-then-write transactions
                    # queue behind each other instead of failing with "database is
                    # locked" (other processes on the same file still wait in the busy
                    # handler). The driver is in autocommit (see `_sqlite_pragmas`), so
                    # SQLAlchemy's begin sends nothing and this BEGIN, sent with the
                    # first statement, opens the transaction that its COMMIT or ROLLBACK
                    # ends. Readers send no BEGIN at all: their work is one statement,
                    # which SQLite already runs on one consistent snapshot.
                    begin_immediate(connection)
                session = self._sessions(bind=connection, join_transaction_mode="rollback_only")
                used = False
                try:
                    yield TableStatements(
                        session,
                        connection,
                        sqlite_writer=self.is_sqlite,
                        prepared=self._prepared,
                    )
                    used = session.in_transaction()
                    if used:
                        await session.commit()  # its flush; the transaction stays open
                    await connection.commit()
                except BaseException:
                    # Also for a failed COMMIT: SQLite's pool does not roll back a
                    # returned connection (see `__init__`).
                    if session.in_transaction():
                        used = True
                        await session.rollback()
                    if connection.in_transaction():
                        await connection.rollback()
                    raise
                finally:
                    if used:
                        await session.close()  # an unused session holds nothing

    def change_stamp(self) -> int | None:
        """SQLite only: a number that changes whenever any other connection commits.

        `PRAGMA data_version` on a private read-only connection answers from SQLite's
        shared memory in microseconds, so callers can check "has anything been written
        since?" without a round trip to the driver thread. None on PostgreSQL.
        """
        if not self.is_sqlite:
            return None
        if self._stamp_conn is None:
            path = make_url(self.url).database
            if not path or path == ":memory:":
                return None
            try:
                self._stamp_conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            except sqlite3.Error:
                return None
        row = self._stamp_conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    async def dispose(self) -> None:
        if self._stamp_conn is not None:
            self._stamp_conn.close()
            self._stamp_conn = None
        await self.engine.dispose()
