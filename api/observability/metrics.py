"""Prometheus metrics of one server: what it serves, how fast, and what it refuses.

Each app has its own registry (tests run several apps in one process). With
`PROMETHEUS_MULTIPROC_DIR` set, prometheus_client writes every value to files in that
folder instead, and a scrape of any worker reads them all: gauges of live things (open
connections, subscriptions, pool use) are summed over the live processes.

Label values are bounded: route templates (never raw paths), operation names capped by
`OperationNames`, error codes, provider and model ids from the server's own tables.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import os
import re
import time
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy import event

from resolvers.cache_budget import CacheBudget
from storage.db import Database

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# A collection of the young generations takes microseconds, a full one of a large heap
# tens or hundreds of milliseconds, during which no request moves.
GC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# Most operations answer in milliseconds; generation calls take tens of seconds.
FAST_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLOW_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
OTHER = "other"
ANONYMOUS = "anonymous"
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")


class OperationNames:
    """Operation names are chosen by clients: the first `cap` distinct ones become label
    values, later ones count as `other`, so a hostile client cannot grow the series."""

    def __init__(self, cap: int = 200) -> None:
        self.cap = cap
        self._seen: set[str] = set()

    def label(self, name: str | None) -> str:
        if not name:
            return ANONYMOUS
        if name in self._seen:
            return name
        if len(self._seen) >= self.cap or not _NAME.fullmatch(name):
            return OTHER
        self._seen.add(name)
        return name


class Metrics:
    """Every metric of the server, registered on one registry."""

    def __init__(self, *, multiprocess_dir: str | None = None, operation_names: int = 200) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self.operation_names = OperationNames(operation_names)
        r = self.registry
        self.http_requests = Counter(
            "meimages_http_requests",
            "HTTP requests and WebSocket connections by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "meimages_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            ["route", "method"],
            buckets=FAST_BUCKETS,
            registry=r,
        )
        self.operations = Counter(
            "meimages_graphql_operations",
            "GraphQL operations by name, type and outcome (ok, error, refused).",
            ["operation", "type", "outcome"],
            registry=r,
        )
        self.operation_duration = Histogram(
            "meimages_graphql_operation_duration_seconds",
            "Time to parse, validate and execute one GraphQL operation.",
            ["operation", "type"],
            buckets=FAST_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "meimages_graphql_errors",
            "Errors answered to clients by code, typed results included.",
            ["code"],
            registry=r,
        )
        self.query_cache = Counter(
            "meimages_query_cache_lookups",
            "Query cache lookups by result (hit or miss).",
            ["result"],
            registry=r,
        )
        self.connections = Gauge(
            "meimages_active_connections",
            "Open WebSocket and Server-Sent Events connections.",
            ["transport"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.subscriptions = Gauge(
            "meimages_active_subscriptions",
            "Running GraphQL subscriptions.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.events_delivered = Counter(
            "meimages_events_delivered",
            "Subscription results sent to clients.",
            registry=r,
        )
        self.uploads = Counter("meimages_uploads", "Images uploaded and stored.", registry=r)
        self.upload_bytes = Counter(
            "meimages_upload_bytes", "Bytes of the images uploaded and stored.", registry=r
        )
        self.upload_rejections = Counter(
            "meimages_upload_rejections",
            "Uploads refused, by reason (the error code).",
            ["reason"],
            registry=r,
        )
        self.generations = Counter(
            "meimages_generations",
            "Provider calls of reference generation by provider, model and outcome.",
            ["provider", "model", "outcome"],
            registry=r,
        )
        self.generation_duration = Histogram(
            "meimages_generation_duration_seconds",
            "Time of one provider call, results stored.",
            ["provider", "model"],
            buckets=SLOW_BUCKETS,
            registry=r,
        )
        self.credits_charged = Counter(
            "meimages_credits_charged",
            "Credits charged for generations that succeeded.",
            ["provider", "model"],
            registry=r,
        )
        self.db_connections_in_use = Gauge(
            "meimages_db_pool_connections_in_use",
            "Database connections checked out of the pool.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.db_connections_open = Gauge(
            "meimages_db_pool_connections_open",
            "Database connections the pool holds open (in use or idle).",
            multiprocess_mode="livesum",
            registry=r,
        )

        # Label lookups take a lock and build tuples; the children of the hot path are kept
        # (their label values are bounded, so is this).
        self._request_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._operation_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._cache_hits = self.query_cache.labels("hit")
        self._cache_misses = self.query_cache.labels("miss")
        self._cache_figures: CacheFigures | None = None
        self._gc_figures: GcPauses | None = None

    def request_done(
        self, route: str, method: str, status: int, seconds: float, *, streamed: bool
    ) -> None:
        key = (route, method, str(status))
        children = self._request_children.get(key)
        if children is None:
            children = (self.http_requests.labels(*key), self.http_duration.labels(route, method))
            self._request_children[key] = children
        children[0].inc()
        if not streamed:  # a WebSocket's or stream's lifetime is no request duration
            children[1].observe(seconds)

    def operation_done(
        self, name: str, kind: str, outcome: str, seconds: float, *, subscription: bool
    ) -> None:
        key = (name, kind, outcome)
        children = self._operation_children.get(key)
        if children is None:
            children = (self.operations.labels(*key), self.operation_duration.labels(name, kind))
            self._operation_children[key] = children
        children[0].inc()
        if not subscription:
            children[1].observe(seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Metrics:
        environ = os.environ if env is None else env
        return cls(multiprocess_dir=environ.get(MULTIPROC_ENV) or None)

    def exposition(self) -> bytes:
        """The Prometheus text of this process, or of every worker in multi-process mode."""
        if self.multiprocess_dir:
            forget_gone_processes(self.multiprocess_dir)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            for own in (self._cache_figures, self._gc_figures):  # this process's, read now
                if own is not None:
                    registry.register(own)
            return generate_latest(registry)
        return generate_latest(self.registry)

    # The rules' observer (resolvers.observer.Observer) --------------------

    def upload_stored(self, size: int) -> None:
        self.uploads.inc()
        self.upload_bytes.inc(size)

    def upload_rejected(self, reason: str) -> None:
        self.upload_rejections.labels(reason.lower()).inc()

    def generation_finished(
        self, provider: str, model: str, outcome: str, seconds: float, credits: int
    ) -> None:
        self.generations.labels(provider, model, outcome).inc()
        self.generation_duration.labels(provider, model).observe(seconds)
        if credits:
            self.credits_charged.labels(provider, model).inc(credits)

    def domain_error(self, code: str) -> None:
        self.errors.labels(code).inc()

    # The query cache -------------------------------------------------------

    def query_cache_lookup(self, hit: bool) -> None:
        (self._cache_hits if hit else self._cache_misses).inc()

    # The in-process caches ---------------------------------------------------

    def watch_caches(self, budget: CacheBudget) -> None:
        """Report the caches under `budget`, read at each scrape (nothing per request)."""
        self._cache_figures = CacheFigures(budget)
        self.registry.register(self._cache_figures)

    # Garbage collection -----------------------------------------------------

    def watch_gc(self) -> None:
        """Time every cyclic-GC pass of this process, by generation: a full collection
        stops the event loop, and its pauses are what a latency tail may be made of."""
        self._gc_figures = GcPauses()
        self.registry.register(self._gc_figures)
        _GC_WATCHERS.add(self._gc_figures)
        if _on_gc not in gc.callbacks:  # installed with the first server that reports
            gc.callbacks.append(_on_gc)

    # The database pool -----------------------------------------------------

    def watch_pool(self, db: Database) -> None:
        """Follow the engine's pool through its events (no polling, every process)."""
        pool = db.engine.sync_engine.pool
        in_use, opened = self.db_connections_in_use, self.db_connections_open

        def checkout(*_: Any) -> None:
            in_use.inc()

        def checkin(*_: Any) -> None:
            in_use.dec()

        def connect(*_: Any) -> None:
            opened.inc()

        def close(*_: Any) -> None:
            opened.dec()

        event.listen(pool, "checkout", checkout)
        event.listen(pool, "checkin", checkin)
        event.listen(pool, "connect", connect)
        event.listen(pool, "close", close)


class ReadAtScrape(Collector):
    """Figures of this process read when `/metrics` is scraped, nothing kept per request."""

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration


class CacheFigures(ReadAtScrape):
    """The cache budget and, per cache, its bytes, entries and evictions (of this process)."""

    def __init__(self, budget: CacheBudget) -> None:
        self.budget = budget

    def collect(self) -> Iterator[Metric]:
        limit = GaugeMetricFamily(
            "meimages_cache_budget_bytes",
            "Bytes all in-process caches may hold together (MEIMAGES_CACHE_BYTES).",
        )
        limit.add_metric([], self.budget.max_bytes)
        used = GaugeMetricFamily(
            "meimages_cache_bytes",
            "Bytes a cache holds, by cache and how they are counted (encoded or estimated).",
            labels=["cache", "sizing"],
        )
        entries = GaugeMetricFamily(
            "meimages_cache_entries", "Entries a cache holds, by cache.", labels=["cache"]
        )
        evictions = CounterMetricFamily(
            "meimages_cache_evictions",
            "Entries a cache dropped to keep to its bounds or to the budget, by cache.",
            labels=["cache"],
        )
        for usage in self.budget.usage():
            used.add_metric([usage.name, usage.sizing.value], usage.nbytes)
            entries.add_metric([usage.name], usage.entries)
            evictions.add_metric([usage.name], usage.evictions)
        yield from (limit, used, entries, evictions)


class GcPauses(ReadAtScrape):
    """Pauses of this process's cyclic GC, by generation, as a histogram read at the scrape.

    Kept in plain lists, not prometheus_client values: the GC runs at any allocation,
    also while prometheus_client holds its (non-reentrant) lock, which an `observe` from
    the GC callback would then wait on for ever."""

    def __init__(self) -> None:
        self.counts = [[0] * (len(GC_BUCKETS) + 1) for _ in range(3)]
        self.sums = [0.0, 0.0, 0.0]

    def observe(self, generation: int, seconds: float) -> None:
        self.counts[generation][bisect.bisect_left(GC_BUCKETS, seconds)] += 1
        self.sums[generation] += seconds

    def collect(self) -> Iterator[Metric]:
        pauses = HistogramMetricFamily(
            "meimages_gc_pause_seconds",
            "Time each cyclic garbage collection held the process, by generation.",
            labels=["generation"],
        )
        for generation, counts in enumerate(self.counts):
            bounds = [str(bound) for bound in GC_BUCKETS] + ["+Inf"]
            cumulative = list(itertools.accumulate(counts))
            pauses.add_metric(
                [str(generation)], list(zip(bounds, cumulative, strict=True)), self.sums[generation]
            )
        yield pauses


def forget_gone_processes(folder: str) -> None:
    """Drop the live gauges of processes that are gone (a worker replaced, a server
    stopped): prometheus_client keeps a process's files until told it is dead, and a
    `livesum` gauge would go on adding a dead worker's last value."""
    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _running(int(pid)):
            mark_process_dead(int(pid), folder)  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


# One callback for the process (gc.callbacks is process-wide), handing each pause to every
# live server's figures; a server that is gone drops out of the set by itself.
_GC_WATCHERS: weakref.WeakSet[GcPauses] = weakref.WeakSet()
_gc_started = 0.0


def _on_gc(phase: str, info: dict[str, int]) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
        return
    seconds = time.perf_counter() - _gc_started
    for figures in list(_GC_WATCHERS):
        figures.observe(info["generation"], seconds)
