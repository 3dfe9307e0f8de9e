"""aiosqlite with at most one trip to the driver thread per statement.

SQLAlchemy's aiosqlite adapter makes a cursor, executes, fetches and closes, each a
separate hand-off to aiosqlite's thread and back (three or four per statement). A
hand-off costs a thread wake-up and the GIL changing hands, which on a busy machine is
far more than SQLite's own work, and a writer pays it while holding the write lock.
Here a statement runs, and its rows are fetched, in one call on that thread; a writer's
BEGIN IMMEDIATE rides along with its first statement (`begin_immediate`).

A statement whose result nobody reads (an UPDATE, an INSERT without RETURNING, sent
with `send`) need not make a trip of its own: it waits on the connection and runs at the
start of the transaction's next trip, before that trip's statement or its COMMIT, in the
order it was sent. A swap's six trips become two. What it changes: such a statement's
failure (a constraint, say) is raised by the next statement or the COMMIT, which fails
instead, and the transaction rolls back as it would have; a ROLLBACK drops what waits.

The one place that touches aiosqlite's internals (`Connection._execute`, `_conn`,
`_thread`; SQLAlchemy itself reaches into the same queue for its isolation-level setter)
and those of SQLAlchemy's aiosqlite adapter it subclasses. `WRITTEN_FOR` names the
versions read; `tests/test_library_fences.py` fails when the installed one is another.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy import Executable
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util.concurrency import await_

# Distribution name → the version prefix this module was written against.
WRITTEN_FOR = {"aiosqlite": "0.22.", "SQLAlchemy": "2.1."}


class _Outcome:
    """What a finished statement left on its cursor, read without another trip."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, description: Any = None, rowcount: int = -1, lastrowid: Any = None):
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.arraysize = 1

    def close(self) -> None:
        pass


# A statement sent without reading its result: (SQL, parameters, executemany?).
Waiting = tuple[str, Any, bool]


def _execute(cursor: sqlite3.Cursor, sql: str, parameters: Any, many: bool) -> None:
    if many:
        cursor.executemany(sql, parameters)
    else:
        cursor.execute(sql, () if parameters is None else parameters)


def _run_waiting(connection: sqlite3.Connection, waiting: list[Waiting]) -> None:
    cursor = connection.cursor()
    try:
        for statement in waiting:
            _execute(cursor, *statement)
    finally:
        cursor.close()


def _run(
    connection: sqlite3.Connection,
    waiting: list[Waiting],
    sql: str,
    parameters: Any,
    many: bool,
    begin: bool,
) -> tuple[_Outcome, list[Any]]:
    if begin:
        connection.execute("BEGIN IMMEDIATE")
    if waiting:
        _run_waiting(connection, waiting)
    # A cursor of its own: its rowcount and lastrowid are this statement's alone.
    cursor = connection.cursor()
    try:
        _execute(cursor, sql, parameters, many)
        rows = cursor.fetchall() if cursor.description else []
        return _Outcome(cursor.description, cursor.rowcount, cursor.lastrowid), rows
    finally:
        cursor.close()


def _commit(connection: sqlite3.Connection, waiting: list[Waiting], begin: bool) -> None:
    """The statements still waiting, then COMMIT; if any of it fails, ROLLBACK before
    raising (the pool does not roll back a returned connection: see storage.db)."""
    try:
        if begin:
            connection.execute("BEGIN IMMEDIATE")
        _run_waiting(connection, waiting)
        connection.commit()
    except BaseException:
        if connection.in_transaction:
            connection.rollback()
        raise


async def _no_trip() -> None:
    return None


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Outcome()  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = deque()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        if not self._wait(operation, parameters, many=False):
            return super().execute(operation, parameters)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        if not self._wait(operation, seq_of_parameters, many=True):
            return super().executemany(operation, seq_of_parameters)

    def _wait(self, operation: Any, parameters: Any, *, many: bool) -> bool:
        """Keep a statement sent by `send` for the next trip (no trip, no result)."""
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        if not adapted.sending:
            return False
        # Every call `send`'s statement makes waits, in order (SQLAlchemy may split one
        # statement into several calls); `send` ends the sending.
        adapted.waiting.append((operation, parameters, many))
        self._cursor = _Outcome()  # type: ignore[assignment]
        self._rows.clear()
        # SQLAlchemy's AsyncConnection.execute insists that a statement awaits once (an
        # await that does not suspend: no trip, no turn of the event loop).
        await_(_no_trip())
        return True

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._trip(operation, seq_of_parameters, many=True)

    async def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        async with adapted._execute_mutex:
            begin, adapted.begin_pending = adapted.begin_pending, False
            waiting, adapted.waiting = adapted.waiting, []
            outcome, rows = await connection._execute(  # type: ignore[no-untyped-call]
                _run, connection._conn, waiting, operation, parameters, many, begin
            )
        self._cursor = outcome
        self._rows.clear()
        self._rows.extend(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("begin_pending", "sending", "waiting")
    _cursor_cls = OneTripCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: aiosqlite.Connection) -> None:
        super().__init__(dbapi, connection)  # type: ignore[arg-type]
        # Whether the next statement opens a write transaction first (see `begin_immediate`).
        self.begin_pending = False
        # Whether the statements executed now wait for the next trip (while `send`
        # executes one), and the statements waiting, in the order sent.
        self.sending = False
        self.waiting: list[Waiting] = []

    def commit(self) -> None:
        begin, self.begin_pending = self.begin_pending, False
        waiting, self.waiting = self.waiting, []
        if not waiting:
            super().commit()
            return
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        try:
            await_(connection._execute(_commit, connection._conn, waiting, begin))  # type: ignore[no-untyped-call]
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        self.begin_pending = False
        self.waiting = []
        super().rollback()


def begin_immediate(connection: AsyncConnection) -> None:
    """Open a write transaction (BEGIN IMMEDIATE) on `connection` (in autocommit, with no
    statement sent since its last commit or rollback), in the same trip to the driver
    thread as its next statement: SQLite's write lock is taken before that statement runs,
    with one hand-off fewer than a BEGIN of its own. A failure to begin (the database
    locked past the busy timeout) is that statement's error."""
    _one_trip(connection).begin_pending = True


async def send(connection: AsyncConnection, statement: Executable, parameters: Any = None) -> None:
    """Execute `statement`, whose result is not read, on `connection` (in a transaction
    `begin_immediate` opened): it runs at the start of the transaction's next trip to
    the driver thread, with the next statement or the COMMIT (see the module's text).
    SQLAlchemy handles it as any statement (compiled, its parameters processed, its
    events, such as `before_cursor_execute`, fired now)."""
    adapted = _one_trip(connection)
    adapted.sending = True
    try:
        await connection.execute(statement, parameters)
    finally:
        adapted.sending = False


def _one_trip(connection: AsyncConnection) -> OneTripConnection:
    sync = connection.sync_connection
    assert sync is not None, "the connection is not open"
    adapted = sync.connection.dbapi_connection
    assert isinstance(adapted, OneTripConnection), "not a connection of one_trip_dbapi"
    return adapted


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI adapter whose connections use `OneTripCursor`."""

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return OneTripConnection(self, await_(connection))


def one_trip_dbapi() -> OneTripDBAPI:
    """The DBAPI module to hand `create_async_engine(module=...)` for sqlite+aiosqlite."""
    return OneTripDBAPI(aiosqlite, sqlite3)
