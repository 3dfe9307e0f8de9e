"""PostgreSQL LISTEN: other instances' commits (and our own) become local wake-ups."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from storage.eventlog.fanout import EventNotifier
from storage.eventlog.log import CHANNEL

log = logging.getLogger("meimages.events")

# How the LISTEN connection shows in pg_stat_activity (its last query changes with
# every health check, so operators and tests find it by name).
APPLICATION_NAME = "meimages-listen"


def asyncpg_dsn(url: str) -> str:
    """The plain libpq-style DSN asyncpg takes, from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class NotifyListener:
    """One PostgreSQL LISTEN connection per process that turns other instances'
    NOTIFYs (and our own) into local wake-ups."""

    def __init__(self, url: str, notifier: EventNotifier, *, health_interval: float = 30.0):
        self._dsn = asyncpg_dsn(url)
        self._notifier = notifier
        self._health_interval = health_interval
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None
        # asyncpg runs one query at a time per connection: health check and probe take turns.
        self._query_lock = asyncio.Lock()
        self.listening = asyncio.Event()

    async def start(self, wait: float = 10.0) -> None:
        self._task = asyncio.create_task(self._run(), name="event-notify-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), wait)
        if not self.listening.is_set():
            log.warning("not yet listening for events of other instances; retrying")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def check(self) -> None:
        """Raise unless the LISTEN connection is up and answers (the readiness probe)."""
        conn = self._conn
        if conn is None or conn.is_closed() or not self.listening.is_set():
            raise ConnectionError("not listening for events of other instances")
        async with self._query_lock:
            await conn.fetchval("SELECT 1", timeout=5)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._notifier.notify(payload)

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            conn: Any = None
            try:
                conn = await asyncpg.connect(
                    self._dsn, timeout=10, server_settings={"application_name": APPLICATION_NAME}
                )
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                self._conn = conn
                self.listening.set()
                backoff = 0.2
                # Anything committed while we were not listening would otherwise wait
                # for that owner's next change.
                self._notifier.notify_all()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self._health_interval)
                    if not lost.is_set():
                        # A silent network failure shows up here, not as a termination.
                        async with self._query_lock:
                            await conn.fetchval("SELECT 1", timeout=10)
                raise ConnectionError("the LISTEN connection was closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning("event LISTEN connection failed (%s); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self._conn = None
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 5)
