"""The byte budget over the caches: bounds, least-recently-used eviction across caches,
and the figures `/metrics` reports."""

from __future__ import annotations

import gc

import pytest

from api.observability.metrics import Metrics
from resolvers.cache_budget import (
    ENTRY_OVERHEAD,
    CacheBudget,
    Sizing,
    memoized,
    tree_bytes,
)
from tests.observability.conftest import parse

ENTRY = 1000 - ENTRY_OVERHEAD  # each entry below counts 1000 bytes in all


def test_an_entry_counts_its_bytes_and_its_overhead() -> None:
    budget = CacheBudget(10_000)
    cache = budget.cache("answers", Sizing.ENCODED)
    cache.put("a", b"x", ENTRY)
    cache.put("b", b"y", ENTRY)
    assert cache.nbytes == budget.used == 2000 and len(cache) == 2
    cache.put("a", b"z", 500 - ENTRY_OVERHEAD)  # replaced, not added
    assert budget.used == 1500 and cache.get("a") == b"z"
    assert cache.pop("a") == b"z" and budget.used == 1000 and cache.evictions == 0


def test_filling_past_the_budget_evicts_the_least_recently_used_of_all_caches() -> None:
    budget = CacheBudget(4000)
    answers = budget.cache("answers", Sizing.ENCODED)
    plans = budget.cache("plans", Sizing.ESTIMATED)
    answers.put("a1", 1, ENTRY)
    plans.put("p1", 1, ENTRY)
    answers.put("a2", 2, ENTRY)
    plans.put("p2", 2, ENTRY)
    assert budget.used == 4000 and budget.evictions == 0
    assert answers.get("a1") == 1  # a1 is now the most recently used of all
    answers.put("a3", 3, ENTRY)  # one over: p1 is the oldest use anywhere
    assert list(plans) == ["p2"] and list(answers) == ["a2", "a1", "a3"]
    plans.put("p3", 3, 2 * ENTRY + ENTRY_OVERHEAD)  # two over: a2, then p2
    assert list(answers) == ["a1", "a3"] and list(plans) == ["p3"]
    assert budget.used == 4000 <= budget.max_bytes
    assert (answers.evictions, plans.evictions, budget.evictions) == (1, 2, 3)
    figures = {u.name: (u.nbytes, u.entries, u.evictions, u.sizing) for u in budget.usage()}
    assert figures == {
        "answers": (2000, 2, 1, Sizing.ENCODED),
        "plans": (2000, 1, 2, Sizing.ESTIMATED),
    }


def test_an_entry_larger_than_the_budget_is_not_kept() -> None:
    budget = CacheBudget(1500)
    cache = budget.cache("answers", Sizing.ENCODED)
    cache.put("small", 1, ENTRY)
    cache.put("huge", 2, 5000)
    assert len(cache) == 0 and budget.used == 0 and cache.evictions == 2


def test_a_budget_of_zero_keeps_nothing() -> None:
    budget = CacheBudget(0)
    cache = budget.cache("answers", Sizing.ENCODED)
    for n in range(10):
        cache.put(n, n, 1)
    assert len(cache) == 0 and cache.evictions == 10


def test_a_cache_keeps_its_own_bounds_within_the_budget() -> None:
    budget = CacheBudget(1_000_000)
    counted = budget.cache("counted", Sizing.ENCODED, max_entries=3)
    sized = budget.cache("sized", Sizing.ENCODED, max_bytes=2500)
    for n in range(10):
        counted.put(n, n, ENTRY)
        sized.put(n, n, ENTRY)
    assert list(counted) == [7, 8, 9] and counted.evictions == 7
    assert list(sized) == [8, 9] and sized.evictions == 8
    assert budget.used == 5000


def test_a_dropped_cache_stops_counting_but_its_evictions_stay_reported() -> None:
    budget = CacheBudget(2000)
    kept = budget.cache("plans", Sizing.ESTIMATED)
    dropped = budget.cache("plans", Sizing.ESTIMATED)  # a second of one name adds up
    for n in range(3):
        dropped.put(n, n, ENTRY)
    kept.put("k", 1, ENTRY)
    assert budget.used == 2000 and [u.entries for u in budget.usage()] == [2]
    del dropped
    gc.collect()
    assert budget.used == 1000
    (plans,) = budget.usage()
    assert (plans.nbytes, plans.entries, plans.evictions) == (1000, 1, 2)


def test_memoized_answers_count_against_the_budget_none_included() -> None:
    budget = CacheBudget(10_000)
    calls: list[str] = []

    def answer(text: str) -> str | None:
        calls.append(text)
        return None if text == "none" else text.upper()

    remembered = memoized(budget.cache("answers", Sizing.ESTIMATED), answer, lambda t: len(t))
    assert [remembered(t) for t in ("a", "none", "a", "none")] == ["A", None, "A", None]
    assert calls == ["a", "none"]
    assert budget.used == 2 * ENTRY_OVERHEAD + len("a") + len("none")


def test_tree_bytes_measures_every_node() -> None:
    import sys

    data = {"event": {"id": "x" * 100, "tags": ["a", "b"]}}
    expected = sum(
        sys.getsizeof(node)
        for node in (data, "event", data["event"], "id", "x" * 100, "tags", ["a", "b"], "a", "b")
    )
    assert tree_bytes(data) == expected
    assert tree_bytes(None) == sys.getsizeof(None)


def test_metrics_report_the_budget_and_every_cache() -> None:
    budget = CacheBudget(3000)
    answers = budget.cache("answers", Sizing.ENCODED)
    plans = budget.cache("plans", Sizing.ESTIMATED)
    for n in range(4):
        answers.put(n, n, ENTRY)
    plans.put("p", 1, ENTRY)
    metrics = Metrics()
    metrics.watch_caches(budget)
    samples = parse(metrics.exposition().decode())
    assert samples.get("meimages_cache_budget_bytes") == 3000
    assert samples.get("meimages_cache_bytes", cache="answers", sizing="encoded") == 2000
    assert samples.get("meimages_cache_bytes", cache="plans", sizing="estimated") == 1000
    assert samples.get("meimages_cache_entries", cache="answers") == 2
    assert samples.get("meimages_cache_evictions_total", cache="answers") == 2
    assert samples.get("meimages_cache_evictions_total", cache="plans") == 0
    # Read at each scrape: later use shows in the next one.
    plans.put("q", 2, ENTRY)
    samples = parse(metrics.exposition().decode())
    assert samples.get("meimages_cache_evictions_total") == 3


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CacheBudget(-1)
