"""The estimated bytes of the caches against what tracemalloc measures they keep.

Each estimate is a measured factor (`resolvers.cache_budget`): these tests measure again
and fail when an estimate strays from the memory actually retained by more than
`TOLERANCE` either way (a new field in an image, a heavier plan), so the budget stays
honest.
"""

from __future__ import annotations

import gc
import json
import logging
import subprocess
import sys
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from resolvers.pool import me_images
from resolvers.stores import Caller
from schema.document_caches import DOCUMENT_BYTES_PER_CHAR
from schema.pool.types import MeImage
from testbed.images import jpeg
from tests.support.app import Api

OPERATIONS = sorted(Path(__file__).parents[2].joinpath("clients", "operations").glob("*.graphql"))
TOLERANCE = 1.6
T = TypeVar("T")


@contextmanager
def _tracing() -> Iterator[Callable[[], int]]:
    """tracemalloc on, and the bytes allocated since, after a collection. Logging is off
    meanwhile: a log record kept by pytest's capture is the test's memory, not the cache's
    (a library at DEBUG would otherwise count each statement it logs)."""
    disabled = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]

        def grown() -> int:
            gc.collect()
            return tracemalloc.get_traced_memory()[0] - before

        yield grown
    finally:
        tracemalloc.stop()
        logging.disable(disabled)


def _retained(make: Callable[[], T]) -> tuple[int, T]:
    """The bytes `make()` leaves allocated (its answer kept), after a collection."""
    with _tracing() as grown:
        kept = make()
        return grown(), kept


async def _retained_async(make: Callable[[], Awaitable[T]]) -> tuple[int, T]:
    """The bytes `make()` leaves allocated (its answer kept), after a collection."""
    with _tracing() as grown:
        kept = await make()
        return grown(), kept


def _close(estimate: int, measured: int) -> bool:
    return measured / TOLERANCE <= estimate <= measured * TOLERANCE


# Measured in a new interpreter: what a parse allocates depends on what this process
# parsed before (names graphql-core and CPython already hold), so the test's order would
# decide it otherwise.
_MEASURE_PARSES = """
import gc, json, sys, tracemalloc
from graphql import parse
sizes = []
for name in sys.argv[1:]:
    text = open(name).read()
    parse(text)  # graphql-core's one-time allocations are not the document's
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    document = parse(text)
    gc.collect()
    sizes.append(tracemalloc.get_traced_memory()[0] - before)
    tracemalloc.stop()
    del document
print(json.dumps(sizes))
"""


def test_a_parsed_document_is_estimated_from_its_text() -> None:
    assert OPERATIONS
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE_PARSES, *map(str, OPERATIONS)],
        capture_output=True,
        text=True,
        check=True,
    )
    for path, measured in zip(OPERATIONS, json.loads(run.stdout), strict=True):
        estimate = DOCUMENT_BYTES_PER_CHAR * len(path.read_text())
        assert _close(estimate, measured), (path.name, estimate, measured)


async def test_a_pool_snapshot_is_estimated_from_its_images(api: Api, owner: str) -> None:
    for n in range(12):
        await api.upload(jpeg(70 + n), user=owner, input={"label": f"look {n}", "tags": ["a", "b"]})
    stores, caller = api.stores, Caller(owner)
    await me_images.pool_snapshot(stores, caller)  # statements and types warmed
    measures = []
    for _ in range(3):  # the median: other tasks of the loop may allocate meanwhile
        stores.caches.pool_snapshots.clear()
        measured, snapshot = await _retained_async(lambda: me_images.pool_snapshot(stores, caller))
        measures.append(measured)
    assert len(snapshot.images) == 12
    # A list read makes the API's view of each image once and keeps it in the snapshot
    # (`MeImage.listed`): the estimate holds for a snapshot read before and after that.
    images = list(snapshot.images)
    viewed, views = _retained(lambda: MeImage.listed(images, snapshot.views))
    assert len(views) == len(snapshot.views) == 12
    estimate, measured = me_images.snapshot_bytes(snapshot), sorted(measures)[1]
    assert _close(estimate, measured), (estimate, measures)
    assert _close(estimate, measured + viewed), (estimate, measured, viewed)


async def test_a_new_query_counts_about_what_it_leaves_in_memory(api: Api, owner: str) -> None:
    """Through the HTTP path: everything a new document leaves behind (its texts, parsed
    documents, verdicts, plan, answer, signed URLs) is what the budget's total grew by."""
    await api.upload(jpeg(90), user=owner, input={"label": "one"})
    query = next(p for p in OPERATIONS if p.name == "pool.graphql").read_text()
    budget = api.stores.caches.budget

    async def ask(name: str) -> None:
        text = query.replace("query MeImages(", f"query {name}(")
        body = {"query": text, "operationName": name, "variables": {}}
        response = await api.client.post("/graphql", json=body, headers=api.headers(owner))
        assert response.status_code == 200 and "errors" not in response.json()

    await ask("Warm")  # the owner's version, pool snapshot and URLs are remembered now
    before = budget.used
    measured, _ = await _retained_async(lambda: ask("Measured"))
    counted = budget.used - before
    assert _close(counted, measured), (counted, measured)
