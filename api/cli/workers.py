"""`meimages serve` on every core: N worker processes answering on one listening socket.

uvicorn's supervisor binds the socket once and spawns (not forks) the workers, which all
accept on it; it restarts a worker that dies, stops them all on SIGTERM or SIGINT (each
finishing its requests), and stops the whole server when a worker cannot start at all,
since every restart would fail the same way.

Several workers are several instances of one deployment on one machine, so the
scale-out rules hold between them (README, "Scaling out"): events reach every worker's
subscribers through PostgreSQL's LISTEN/NOTIFY, the in-process read caches check the
owner's data version in the database on every request, the background sweepers are
safe on every instance at once, and export jobs are rows (their archives sit in the
one export folder the workers share). Two things are per process: rate limit windows
and persisted queries, unless `MEIMAGES_REDIS_URL` is set; and MCP sessions, so `/mcp`
runs without sessions here (a session's next request may reach another worker).

SQLite is refused: a commit there wakes the subscribers of its own process only (there
is no NOTIFY between processes), so subscribers on the other workers would miss events.

What must happen once is done here, before any worker starts: the data folder's secrets,
master key and signing identity are made, and the migrations run; each worker then
finds them done.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette

from api.cli.setup import refuse
from api.settings import Settings

log = logging.getLogger("meimages")

WORKER_HEALTHCHECK_S = 30

# The settings a worker must share with the supervisor that the command line may have
# given (workers read theirs from the environment they inherit).
_HANDED_DOWN = {"host": "MEIMAGES_HOST", "port": "MEIMAGES_PORT", "data_dir": "MEIMAGES_DATA_DIR"}


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the app, one worker or many."""
    from api.websocket_protocol import BoundedWebSocketProtocol

    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        # Forwarded headers are the app's job (MEIMAGES_TRUSTED_PROXIES), the log format
        # too; the app writes one access line per request, with its request id.
        "proxy_headers": False,
        # The fast event loop and HTTP parser (pinned dependencies), not the pure-Python ones.
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        "access_log": False,
        # Oversized WebSocket frames are refused before they are buffered whole, and open
        # event streams (SSE) must not hold a shutdown forever; clients resume by cursor.
        "ws_max_size": settings.ws_max_message_bytes,
        # A client that stopped reading answers no ping: it is cut off, not buffered for.
        "ws": BoundedWebSocketProtocol,
        "ws_ping_interval": settings.ws_ping_interval_s,
        "ws_ping_timeout": settings.ws_ping_timeout_s,
        "timeout_graceful_shutdown": 10,
        # With several workers the supervisor pings each every half second and replaces one
        # that does not answer within this many seconds: long enough that a worker merely
        # slowed by a busy machine is left alone, short enough that a hung one is replaced.
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_S,
    }


# Allocations between young collections (Python's default is 700). Each young collection
# moves the objects of the requests then in flight to an older generation, where they die
# and, once enough have, set off a full collection of the whole heap: at 700 a steady soak
# (bench.soak) made 7-9 full collections a minute of 0.15-0.25 s each, every request
# waiting through them. At 10,000 it made 0-1, and fewer passes of any kind over 50 ms.
YOUNG_GC_THRESHOLD = 10_000


def settle_heap() -> None:
    """The schema, modules and settings built at start-up live as long as the process:
    move them out of the cyclic GC's sight so full collections stop rescanning them; and
    collect the young generation less often (`YOUNG_GC_THRESHOLD`)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])


def workers_refused(settings: Settings) -> str | None:
    """Why this deployment cannot serve from several processes, or None."""
    from sqlalchemy.engine import make_url

    if make_url(settings.resolved_database_url).get_backend_name() == "sqlite":
        return (
            "--workers needs PostgreSQL (MEIMAGES_DATABASE_URL): on SQLite a commit wakes "
            "only the subscribers of the process that made it, so subscribers served by "
            "the other workers would miss events; serve with one worker, or on PostgreSQL"
        )
    return None


def serve_workers(
    args: argparse.Namespace,
    settings: Settings,
    workers: int,
    *,
    announce: Callable[[Settings], None],
) -> int:
    """Serve with `workers` processes until SIGTERM/SIGINT; `announce` prints the banner."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    if (refused := workers_refused(settings)) is not None:
        return refuse(args, refused)
    try:
        prepared = asyncio.run(_prepare(settings))
    except Exception as error:  # the database is unreachable, a key file unreadable, …
        log.error("cannot start: %s: %s", type(error).__name__, error)
        return 1
    _hand_down(settings, workers)
    if settings.log_format == "json":
        log.info(
            "serving http://%s:%s with %d workers, data in %s",
            settings.host,
            settings.port,
            workers,
            settings.data_dir,
        )
    else:
        announce(prepared)
        print(f"Workers:   {workers} processes on one port", flush=True)
    config = uvicorn.Config(
        "api.cli.workers:worker_app", factory=True, workers=workers, **uvicorn_options(settings)
    )
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(worker.exitcode == STARTUP_FAILURE for worker in supervisor.processes):
        log.error("a worker could not start (its log is above); the server stopped")
        return 1
    return 0


async def _prepare(settings: Settings) -> Settings:
    """Make the data folder's secrets and keys, and migrate, once for every worker."""
    from api.wiring import build_server
    from storage import migrate

    server = build_server(settings)
    try:
        await migrate.upgrade(server.stores.db)
    finally:
        await server.stores.blobs.close()
        await server.stores.rate_counters.close()
        await server.persisted_documents.close()
        await server.stores.db.dispose()
        server.observability.close()
    return server.settings


def _hand_down(settings: Settings, workers: int) -> None:
    """Put what the command line chose into the environment the workers inherit."""
    for name, variable in _HANDED_DOWN.items():
        value = getattr(settings, name)
        os.environ[variable] = str(value.resolve() if name == "data_dir" else value)
    # Each worker takes its share of MEIMAGES_DB_POOL_SIZE.
    os.environ["MEIMAGES_WORKERS"] = str(workers)
    if not settings.mcp_stateless:
        log.info("several workers: /mcp serves without sessions (MEIMAGES_MCP_STATELESS)")
        os.environ["MEIMAGES_MCP_STATELESS"] = "true"


def worker_app() -> Starlette:
    """One worker's app (uvicorn calls this in each worker process)."""
    from api.app import create_app
    from api.observability import logs

    settings = Settings.from_env()
    logs.configure(settings.log_format, settings.log_level)
    # uvicorn set its loggers up before calling this factory; its access log stays off
    # (the app writes its own), as it is with one worker.
    logging.getLogger("uvicorn.access").propagate = False
    app = create_app(settings)
    settle_heap()
    return app
