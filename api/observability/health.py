"""`/healthz` (the process is alive) and `/readyz` (it can serve: database, blob store and,
on PostgreSQL, the LISTEN connection that wakes subscribers across instances).

`/readyz` answers 200 or 503 with one JSON entry per check; a failed one says what kind of
error it met, never the error text (which may carry a host name or a path).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from resolvers.stores import Stores

log = logging.getLogger("meimages.health")
Probe = Callable[[], Awaitable[None]]
PROBE_TIMEOUT_S = 5.0


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@dataclass
class Readiness:
    """The checks `/readyz` runs; the lifespan adds the LISTEN check once it is started."""

    probes: dict[str, Probe] = field(default_factory=dict)

    @classmethod
    def of(cls, stores: Stores) -> Readiness:
        async def database() -> None:
            async with stores.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        async def blobs() -> None:
            check = getattr(stores.blobs, "check", None)
            if check is not None:
                await check()
            else:  # a store without its own probe: a read that must not fail
                await stores.blobs.exists("readiness-probe")

        return cls({"database": database, "blob_store": blobs})

    def add(self, name: str, probe: Probe) -> None:
        self.probes[name] = probe

    async def report(self) -> tuple[bool, dict[str, str]]:
        names = list(self.probes)
        outcomes = await asyncio.gather(
            *(_run(name, self.probes[name]) for name in names), return_exceptions=False
        )
        checks = dict(zip(names, outcomes, strict=True))
        return all(outcome == "ok" for outcome in checks.values()), checks

    async def endpoint(self, request: Request) -> Response:
        ready, checks = await self.report()
        failed = [name for name, outcome in checks.items() if outcome != "ok"]
        body: dict[str, object] = {"status": "ready" if ready else "unavailable", "checks": checks}
        if failed:
            body["failed"] = failed
        return JSONResponse(body, status_code=200 if ready else 503)


async def _run(name: str, probe: Probe) -> str:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await probe()
    except TimeoutError:
        log.warning("readiness check %s timed out", name)
        return "timeout"
    except Exception as exc:
        log.warning("readiness check %s failed: %s", name, exc)
        return f"failed: {type(exc).__name__}"
    return "ok"
