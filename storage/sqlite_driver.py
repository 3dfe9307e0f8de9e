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

Such a statement does not even go through SQLAlchemy's execution each time (`queue`): it
is compiled once per connection pool (`Prepared`), and each send only binds its
parameters, as SQLAlchemy would, and puts it in the queue. (Through SQLAlchemy's execute,
each of a swap's four sent statements cost a greenlet, an execution context and a
cursor.) A writer's read skips it the same way (`fetch`): one trip, its rows made as
SQLAlchemy's result makes them. Where SQLAlchemy must execute a statement itself
(Python-side defaults, expanding parameters), or someone listens to the engine's
statement events (the tests that count statements, a tracer), it executes it as before.

The one place that touches aiosqlite's internals (`Connection._execute`, `_conn`,
`_thread`; SQLAlchemy itself reaches into the same queue for its isolation-level setter)
and those of SQLAlchemy's aiosqlite adapter it subclasses and of its compiled statements
(`_bind_processors`, `_result_columns`, `_has_events`: read as its own execution reads
them). `WRITTEN_FOR` names the versions read; `tests/test_library_fences.py` fails when
the installed one is another.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import aiosqlite
from sqlalchemy import Executable
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler
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


async def _trip(
    adapted: OneTripConnection, sql: str, parameters: Any, *, many: bool
) -> tuple[_Outcome, list[Any]]:
    """One trip to the driver thread: the BEGIN if due, what waits, then `sql`."""
    connection: aiosqlite.Connection = adapted._connection  # type: ignore[assignment]
    async with adapted._execute_mutex:
        begin, adapted.begin_pending = adapted.begin_pending, False
        waiting, adapted.waiting = adapted.waiting, []
        result: tuple[_Outcome, list[Any]] = await connection._execute(  # type: ignore[no-untyped-call]
            _run, connection._conn, waiting, sql, parameters, many, begin
        )
    return result


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
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        outcome, rows = await _trip(adapted, operation, parameters, many=many)
        self._cursor = outcome  # type: ignore[assignment]
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


class Prepared:
    """A statement compiled once for `queue` and `fetch`: its SQL; for each of its
    parameters in order, where its value comes from (the values sent, or the statement's
    own) and the processor SQLAlchemy applies to it (dates to text, JSON to text...);
    and for each column it reads, what SQLAlchemy's result applies to it."""

    __slots__ = ("_compiled", "_positions", "_results", "_width", "sql")

    def __init__(self, compiled: SQLCompiler) -> None:
        self._compiled = compiled
        self.sql = compiled.string
        processors: Mapping[str, Callable[[Any], Any]] = compiled._bind_processors  # type: ignore[assignment]
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        self._positions = tuple(
            (binds[name].key, name, binds[name].required, binds[name].value, processors.get(name))
            for name in compiled.positiontup or ()
        )
        # What SQLAlchemy's result applies to the columns read (text to dates...), by
        # their place, for those that have a processor; None for a statement that reads
        # nothing, or reads columns SQLAlchemy matches by name.
        self._results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None
        if compiled._result_columns and not (
            compiled._textual_ordered_columns or compiled._ad_hoc_textual
        ):
            readers = [
                column.type._cached_result_processor(compiled.dialect, None)
                for column in compiled._result_columns
            ]
            self._width = len(readers)
            self._results = tuple((at, read) for at, read in enumerate(readers) if read)

    def bind(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The parameters of one execution, as SQLAlchemy hands them to the driver
        (`SQLCompiler.construct_params`, then `DefaultExecutionContext._init_compiled`)."""
        bound = []
        for key, name, required, default, process in self._positions:
            if key in values:
                value = values[key]
            elif name in values:
                value = values[name]
            elif required:
                # Raises SQLAlchemy's own error ("A value is required for bind parameter").
                self._compiled.construct_params(values, escape_names=False)
                raise AssertionError(f"no value for the parameter {key!r}")
            else:
                value = default
            bound.append(value if process is None else process(value))
        return tuple(bound)

    @property
    def reads(self) -> bool:
        """Whether it reads rows (a SELECT, a RETURNING)."""
        return self._results is not None

    def rows(self, fetched: list[Any]) -> list[tuple[Any, ...]]:
        """The rows as SQLAlchemy's result gives them."""
        processors = self._results
        assert processors is not None, "a statement that reads nothing"
        rows = []
        for row in fetched:
            assert len(row) == self._width, "a row of another statement"
            values = list(row)
            for at, process in processors:
                values[at] = process(values[at])
            rows.append(tuple(values))
        return rows


# Statements a connection pool has prepared (or found it cannot), by (statement, the
# names of its parameters, executemany?).
PreparedStatements = dict[tuple[Executable, tuple[str, ...], bool], "Prepared | None"]
# Entries a pool keeps at most: the hot writes send a handful of statements, each built
# once; a caller that builds a statement per call gets SQLAlchemy's execution instead of
# an ever larger cache.
MAX_PREPARED = 64


def _prepare(
    sync: Connection, statement: Executable, keys: tuple[str, ...], many: bool
) -> Prepared | None:
    try:
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=sync.dialect, column_keys=list(keys), for_executemany=many
        )
    except Exception:
        return None  # SQLAlchemy's execution raises its own error for it
    if not isinstance(compiled, SQLCompiler) or not compiled.positional:
        return None
    if (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.literal_execute_params
        or compiled.post_compile_params
        or compiled.schema_translate_map
        or compiled.escaped_bind_names
        or getattr(compiled, "_collected_params", None)  # values of `.params()`
        or any(bind.callable is not None for bind in compiled.bind_names)
    ):
        return None  # SQLAlchemy computes something of its own for these
    return Prepared(compiled)


def _listened(sync: Connection) -> bool:
    """Whether anyone listens to the statements `sync` executes (SQLAlchemy only says
    whether any of its events ever had a listener)."""
    events = sync.dispatch
    return bool(
        events.before_execute
        or events.after_execute
        or events.before_cursor_execute
        or events.after_cursor_execute
    )


def _prepared(
    connection: AsyncConnection,
    statement: Executable,
    rows: list[Mapping[str, Any]],
    prepared: PreparedStatements,
) -> Prepared | None:
    """`statement` compiled for these parameter rows (once: kept in `prepared`); None
    where SQLAlchemy must execute it: a statement it cannot prepare, a full cache, or an
    engine someone listens to (statement events, which only its execution fires)."""
    sync = connection.sync_connection
    assert sync is not None, "the connection is not open"
    if not rows or not all(type(row) is dict or isinstance(row, Mapping) for row in rows):
        return None  # no parameters, or positional ones
    if (sync._has_events or sync.engine._has_events) and _listened(sync):
        return None
    key = (statement, tuple(sorted(rows[0])), len(rows) > 1)
    if key in prepared:
        return prepared[key]
    if len(prepared) >= MAX_PREPARED:
        return None
    found = prepared[key] = _prepare(sync, statement, key[1], key[2])
    return found


def queue(
    connection: AsyncConnection,
    statement: Executable,
    parameters: Any,
    prepared: PreparedStatements,
) -> bool:
    """`send` without SQLAlchemy's execution: `statement` (compiled once, into
    `prepared`) waits for the transaction's next trip with its parameters bound.
    False, having done nothing, where SQLAlchemy must execute it (see `_prepared`)."""
    rows: list[Mapping[str, Any]] = (
        parameters if isinstance(parameters, list) else [parameters or {}]
    )
    found = _prepared(connection, statement, rows, prepared)
    if found is None or found.reads:
        return False  # a statement with a result (a RETURNING) is read, not queued
    bound = [found.bind(row) for row in rows]
    waiting = _one_trip(connection).waiting
    if len(bound) == 1:
        waiting.append((found.sql, bound[0], False))
    else:
        waiting.append((found.sql, bound, True))
    return True


async def fetch(
    connection: AsyncConnection,
    statement: Executable,
    parameters: Mapping[str, Any],
    prepared: PreparedStatements,
) -> list[tuple[Any, ...]] | None:
    """The rows of a read (`statement`, compiled once into `prepared`), in one trip to
    the driver thread (with what waits, and the BEGIN if due), without SQLAlchemy's
    execution: its rows as SQLAlchemy's result would give them, plain tuples. A driver
    error is raised as SQLAlchemy's (`IntegrityError`, `OperationalError`...). None,
    having done nothing, where SQLAlchemy must execute it (see `_prepared`)."""
    found = _prepared(connection, statement, [parameters], prepared)
    if found is None or not found.reads:
        return None
    bound = found.bind(parameters)
    try:
        _, fetched = await _trip(_one_trip(connection), found.sql, bound, many=False)
    except sqlite3.Error as error:
        raise DBAPIError.instance(found.sql, bound, error, sqlite3.Error) from error
    return found.rows(fetched)


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
