"""Start and stop what runs beside the requests: migrations, LISTEN, the sweepers, the GC.

Every piece that starts registers its own stop on one exit stack, so shutdown runs in
the reverse order of start-up and a failed start still stops what had started.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette

from api.wiring import Server
from resolvers.generation.sweeper import release_interrupted_periodically
from resolvers.purge import collect_garbage_periodically
from storage import migrate
from storage.eventlog.listen import NotifyListener
from storage.eventlog.retention import RetentionSweeper


def lifespan(server: Server) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.push_async_callback(server.stores.db.dispose)
            await migrate.upgrade(server.stores.db)
            await _start_event_services(server, stack)
            stack.push_async_callback(server.stores.blobs.close)
            await _start_sweepers(server, stack)
            yield

    return run


async def _start_event_services(server: Server, stack: AsyncExitStack) -> None:
    settings, db = server.settings, server.stores.db
    if settings.event_retention_days > 0:
        sweeper = RetentionSweeper(db, timedelta(days=settings.event_retention_days))
        sweeper.start()
        stack.push_async_callback(sweeper.stop)
    if not db.is_sqlite:
        # Instances sharing one PostgreSQL wake each other's subscribers via LISTEN/NOTIFY.
        listener = NotifyListener(db.url, server.stores.notifier)
        await listener.start()
        stack.push_async_callback(listener.stop)


async def _start_sweepers(server: Server, stack: AsyncExitStack) -> None:
    settings = server.settings
    if settings.gc_interval_s > 0:
        # Orphaned media bytes go after their grace period; safe on every instance at once.
        collect = collect_garbage_periodically(
            server.stores,
            interval=timedelta(seconds=settings.gc_interval_s),
            grace=timedelta(seconds=settings.gc_grace_s),
        )
        await stack.enter_async_context(_background(collect, "media-collector"))
    if settings.generation_sweep_interval_s > 0:
        # Holds of generations whose process died are released; safe on every instance.
        release = release_interrupted_periodically(
            server.stores, interval=timedelta(seconds=settings.generation_sweep_interval_s)
        )
        await stack.enter_async_context(_background(release, "generation-sweeper"))


@asynccontextmanager
async def _background(work: Coroutine[Any, Any, Any], name: str) -> AsyncIterator[None]:
    """Run `work` as a task while the context is open; cancel it (and wait) on the way out."""
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
