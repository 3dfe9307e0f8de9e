"""When a store the server depends on fails: the database or the blob store cannot be
reached, or has no room left. Each store turns its driver's failure into one of these, so
the doors can answer "retry later" (503, or 507 for a full disk) instead of a masked 500,
and nothing above the storage floor has to know a driver's exception classes.
"""

from __future__ import annotations

import asyncio
import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import obstore.exceptions as obstore_errors
from sqlalchemy import exc as sa

# How long a client is told to wait before retrying; a restart of either store takes
# seconds, and a shorter hint would only add load while it is down.
RETRY_AFTER_S = 5

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class StoreUnavailable(Exception):
    """`store` ("database" or "blob store") cannot serve this request right now; the same
    request may succeed when retried after `retry_after_s` seconds."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503

    def __init__(self, store: str, retry_after_s: int = RETRY_AFTER_S) -> None:
        super().__init__(f"The {store} is unavailable; retry in a few seconds.")
        self.store = store
        self.retry_after_s = retry_after_s

    @property
    def message(self) -> str:
        return str(self.args[0])


class StoreFull(StoreUnavailable):
    """`store` has no space left: nothing was written, reads still work."""

    code = "STORAGE_FULL"
    http_status = 507

    def __init__(self, store: str) -> None:
        super().__init__(store, retry_after_s=60)
        self.args = (f"The {store} is full; nothing was saved.",)


def _chain(error: BaseException) -> list[BaseException]:
    """The error, the driver error SQLAlchemy wrapped, and their causes (bounded)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo and len(seen) < 8:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return seen


def _is_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
        return True
    if isinstance(error, asyncpg.DiskFullError):
        return True
    # SQLite reports a full disk as SQLITE_FULL ("database or disk is full").
    return isinstance(error, sqlite3.OperationalError) and "disk is full" in str(error)


def _is_busy(error: BaseException) -> bool:
    # SQLite gave up waiting for the write lock (busy_timeout): the server is overloaded
    # with writes for a moment, which a retry a little later gets through.
    return isinstance(error, sqlite3.OperationalError) and "database is locked" in str(error)


def _is_unreachable(error: BaseException) -> bool:
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa.TimeoutError):  # the connection pool stayed empty
        return True
    return isinstance(
        error,
        ConnectionError
        | TimeoutError
        | asyncio.TimeoutError
        | asyncpg.PostgresConnectionError  # incl. "connection does not exist"
        | asyncpg.OperatorInterventionError  # shutting down, starting up
        # Out of connections ("too many clients already"), memory or a configured limit:
        # the server is at capacity for a moment, not broken.
        | asyncpg.InsufficientResourcesError,
    ) or (
        # asyncpg's own word for a connection the server closed under it.
        isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error)
    )


def database_failure(error: BaseException) -> StoreUnavailable | None:
    """The `StoreUnavailable` an exception from the database amounts to, or None when it is
    an ordinary error (a constraint, a bug) that must travel on unchanged."""
    chain = _chain(error)
    if any(_is_full(e) for e in chain):
        return StoreFull("database")
    if any(_is_unreachable(e) or _is_busy(e) for e in chain):
        return StoreUnavailable("database")
    return None


@contextmanager
def blob_store_failures() -> Iterator[None]:
    """Turn a blob store's I/O failure into `StoreFull` / `StoreUnavailable`; a missing
    object (FileNotFoundError) stays what it is, the callers decide what absence means."""
    try:
        yield
    except (StoreUnavailable, FileNotFoundError):
        raise
    except OSError as error:  # local folder: disk full, I/O error, unmounted volume
        if error.errno in _FULL_ERRNOS:
            raise StoreFull("blob store") from error
        raise StoreUnavailable("blob store") from error
    except obstore_errors.BaseError as error:  # S3: unreachable, timed out, refused
        raise StoreUnavailable("blob store") from error
