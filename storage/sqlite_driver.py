"""aiosqlite with one trip to the driver thread per statement.

SQLAlchemy's aiosqlite adapter makes a cursor, executes, fetches and closes, each a
separate hand-off to aiosqlite's thread and back (three or four per statement). A
hand-off costs a thread wake-up and the GIL changing hands, which on a busy machine is
far more than SQLite's own work, and a writer pays it while holding the write lock.
Here a statement runs, and its rows are fetched, in one call on that thread; a writer's
BEGIN IMMEDIATE rides along with its first statement (`begin_immediate`).

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


def _run(
    connection: sqlite3.Connection, sql: str, parameters: Any, many: bool, begin: bool
) -> tuple[_Outcome, list[Any]]:
    if begin:
        connection.execute("BEGIN IMMEDIATE")
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Outcome(cursor.description, cursor.rowcount, cursor.lastrowid), rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Outcome()  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._trip(operation, seq_of_parameters, many=True)

    async def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        async with adapted._execute_mutex:
            begin, adapted.begin_pending = adapted.begin_pending, False
            outcome, rows = await connection._execute(  # type: ignore[no-untyped-call]
                _run, connection._conn, operation, parameters, many, begin
            )
        self._cursor = outcome
        self._rows.clear()
        self._rows.extend(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("begin_pending",)
    _cursor_cls = OneTripCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: aiosqlite.Connection) -> None:
        super().__init__(dbapi, connection)  # type: ignore[arg-type]
        # Whether the next statement opens a write transaction first (see `begin_immediate`).
        self.begin_pending = False

    def commit(self) -> None:
        self.begin_pending = False
        super().commit()

    def rollback(self) -> None:
        self.begin_pending = False
        super().rollback()


def begin_immediate(connection: AsyncConnection) -> None:
    """Open a write transaction (BEGIN IMMEDIATE) on `connection` (in autocommit, with no
    statement sent since its last commit or rollback), in the same trip to the driver
    thread as its next statement: SQLite's write lock is taken before that statement runs,
    with one hand-off fewer than a BEGIN of its own. A failure to begin (the database
    locked past the busy timeout) is that statement's error."""
    sync = connection.sync_connection
    assert sync is not None, "begin_immediate needs a connection that is open"
    adapted = sync.connection.dbapi_connection
    assert isinstance(adapted, OneTripConnection), "not a connection of one_trip_dbapi"
    adapted.begin_pending = True


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI adapter whose connections use `OneTripCursor`."""

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return OneTripConnection(self, await_(connection))


def one_trip_dbapi() -> OneTripDBAPI:
    """The DBAPI module to hand `create_async_engine(module=...)` for sqlite+aiosqlite."""
    return OneTripDBAPI(aiosqlite, sqlite3)
