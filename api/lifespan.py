"""Start and stop what runs beside the requests: migrations, LISTEN, the sweepers, the GC.

Every piece that starts registers its own stop on one exit stack, so shutdown runs in
the reverse order of start-up and a failed start still stops what had started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import timedelta

from starlette.applications import Starlette

from api.wiring import Server
from resolvers.generation.sweeper import release_interrupted_periodically
from resolvers.lifecycle.garbage import collect_garbage_periodically
from resolvers.pool.consent import lapse_due_periodically
from storage import migrate
from storage.eventlog.listen import NotifyListener
from storage.eventlog.retention import RetentionSweeper

log = logging.getLogger("meimages")


def lifespan(
    server: Server, services: Sequence[Callable[[], AbstractAsyncContextManager[None]]] = ()
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """`services`: doors that run beside the requests (the MCP sessions), started last."""

    @asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.push_async_callback(server.stores.db.dispose)
            stack.callback(server.observability.close)  # flushes the last spans
            await migrate.upgrade(server.stores.db)
            await _start_event_services(server, stack)
            stack.push_async_callback(server.stores.blobs.close)
            stack.push_async_callback(server.stores.rate_counters.close)
            stack.push_async_callback(server.persisted_documents.close)
            await _start_sweepers(server, stack)
            for service in services:
                await stack.enter_async_context(service())
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
        server.observability.readiness.add("event_listener", listener.check)


async def _start_sweepers(server: Server, stack: AsyncExitStack) -> None:
    settings = server.settings
    tasks: list[asyncio.Task[None]] = []
    if settings.gc_interval_s > 0:
        # Orphaned media bytes go after their grace period; safe on every instance at once.
        collect = collect_garbage_periodically(
            server.stores,
            interval=timedelta(seconds=settings.gc_interval_s),
            grace=timedelta(seconds=settings.gc_grace_s),
        )
        tasks.append(asyncio.create_task(collect, name="media-collector"))
    if settings.generation_sweep_interval_s > 0:
        # Holds of generations whose process died are released; safe on every instance.
        release = release_interrupted_periodically(
            server.stores, interval=timedelta(seconds=settings.generation_sweep_interval_s)
        )
        tasks.append(asyncio.create_task(release, name="generation-sweeper"))
        # Timed consents nobody reads are lapsed (and logged) too; once, whoever is first.
        lapse = lapse_due_periodically(
            server.stores, interval=timedelta(seconds=settings.generation_sweep_interval_s)
        )
        tasks.append(asyncio.create_task(lapse, name="consent-sweeper"))
    stack.push_async_callback(_cancel, tasks)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the tasks and wait until each has ended (cancelled, or failed before)."""
    for task in tasks:
        task.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for task, outcome in zip(tasks, outcomes, strict=True):
        if isinstance(outcome, Exception):  # died before shutdown: say so, stop the rest
            log.error("background task %s had failed", task.get_name(), exc_info=outcome)
