"""aiosqlite with one trip to the driver thread per statement.

SQLAlchemy's aiosqlite adapter makes a cursor, executes, fetches and closes, each a
separate hand-off to aiosqlite's thread and back (three or four per statement). A
hand-off costs a thread wake-up and the GIL changing hands, which on a busy machine is
far more than SQLite's own work, and a writer pays it while holding the write lock.
Here a statement runs, and its rows are fetched, in one call on that thread.

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
    connection: sqlite3.Connection, sql: str, parameters: Any, many: bool
) -> tuple[_Outcome, list[Any]]:
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
        async with self._adapt_connection._execute_mutex:
            outcome, rows = await connection._execute(  # type: ignore[no-untyped-call]
                _run, connection._conn, operation, parameters, many
            )
        self._cursor = outcome
        self._rows.clear()
        self._rows.extend(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor  # type: ignore[assignment]


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI adapter whose connections use `OneTripCursor`."""

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return OneTripConnection(self, await_(connection))


def one_trip_dbapi() -> OneTripDBAPI:
    """The DBAPI module to hand `create_async_engine(module=...)` for sqlite+aiosqlite."""
    return OneTripDBAPI(aiosqlite, sqlite3)
