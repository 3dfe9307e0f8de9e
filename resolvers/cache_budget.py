"""One byte budget over every cache a server process keeps in memory.

Each cache (`BudgetedCache`) is an LRU map that knows the bytes of every entry and may
have its own bounds (entries, bytes); all of them draw on one `CacheBudget`. When the
caches together hold more than the budget, the least recently used entry of all of
them goes first, whichever cache holds it: a busy cache can take memory an idle one
no longer uses.

The bytes of an entry are what its cache says when storing it, and each cache says how
it counts (`Sizing`): the length of the encoded bytes it keeps (`ENCODED`: responses,
URLs), or an estimate for decoded objects (`ESTIMATED`: parsed documents, plans, decoded
pools) made from a cheap figure of the entry (its text's length, its number of images)
times a factor measured with `tracemalloc` (tests/memory keeps each factor honest).
Every entry also pays `ENTRY_OVERHEAD`, the cache's own bookkeeping.

A module or a later feature adds its cache with `CacheBudget.cache(name, ...)`; the
budget keeps only weak references, so a cache that is dropped stops counting.
"""

from __future__ import annotations

import itertools
import sys
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from enum import Enum
from typing import Any, Generic, TypeVar

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "ENTRY_OVERHEAD",
    "BudgetedCache",
    "CacheBudget",
    "CacheUsage",
    "Sizing",
    "memoized",
    "tree_bytes",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")

# What every server process may keep in its caches unless MEIMAGES_CACHE_BYTES says.
DEFAULT_CACHE_BYTES = 128 * 1024 * 1024

# An entry's bookkeeping, measured with tracemalloc on CPython 3.11: its OrderedDict slot
# and linked-list node (~100 B at a typical fill) and its `_Entry` (56 B).
ENTRY_OVERHEAD = 160


class Sizing(Enum):
    """How a cache counts the bytes of its entries (reported with them)."""

    ENCODED = "encoded"  # length of the bytes or text kept
    ESTIMATED = "estimated"  # a measured factor times a cheap figure of the entry


class _Entry:
    __slots__ = ("nbytes", "used", "value")

    def __init__(self, value: Any, nbytes: int, used: int) -> None:
        self.value = value
        self.nbytes = nbytes
        self.used = used


class CacheUsage:
    """One cache's figures, as `/metrics` reports them."""

    __slots__ = ("entries", "evictions", "name", "nbytes", "sizing")

    def __init__(self, name: str, sizing: Sizing, nbytes: int, entries: int, evictions: int):
        self.name = name
        self.sizing = sizing
        self.nbytes = nbytes
        self.entries = entries
        self.evictions = evictions


class CacheBudget:
    """The bytes every cache of one server may hold together (see module)."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("a cache budget cannot be negative")
        self.max_bytes = max_bytes
        self._caches: weakref.WeakSet[BudgetedCache[Any, Any]] = weakref.WeakSet()
        # Evictions of caches that are gone, so the totals never go down.
        self._retired_evictions: dict[str, int] = {}
        self._clock = itertools.count()

    def cache(
        self,
        name: str,
        sizing: Sizing,
        *,
        max_entries: int | None = None,
        max_bytes: int | None = None,
    ) -> BudgetedCache[Any, Any]:
        """A new cache drawing on this budget; caches of one name are reported together."""
        cache: BudgetedCache[Any, Any] = BudgetedCache(
            self, name, sizing, max_entries=max_entries, max_bytes=max_bytes
        )
        self._caches.add(cache)
        weakref.finalize(cache, self._retire, name, cache._evictions_box)
        return cache

    @property
    def used(self) -> int:
        return sum(cache.nbytes for cache in list(self._caches))

    @property
    def evictions(self) -> int:
        return sum(u.evictions for u in self.usage())

    def usage(self) -> list[CacheUsage]:
        """Per cache name: bytes, entries and evictions (those of dropped caches too)."""
        named: dict[str, CacheUsage] = {}
        for name, evicted in self._retired_evictions.items():
            named[name] = CacheUsage(name, Sizing.ESTIMATED, 0, 0, evicted)
        for cache in list(self._caches):
            figures = named.get(cache.name)
            if figures is None:
                figures = named[cache.name] = CacheUsage(cache.name, cache.sizing, 0, 0, 0)
            figures.sizing = cache.sizing
            figures.nbytes += cache.nbytes
            figures.entries += len(cache)
            figures.evictions += cache.evictions
        return sorted(named.values(), key=lambda u: u.name)

    def _tick(self) -> int:
        return next(self._clock)

    def _enforce(self) -> None:
        """Evict the least recently used entries of all caches until they fit."""
        caches = [cache for cache in list(self._caches) if cache.nbytes]
        total = sum(cache.nbytes for cache in caches)
        while total > self.max_bytes and caches:
            oldest = min(caches, key=lambda cache: cache._oldest_use())
            total -= oldest._evict_oldest()
            if not oldest.nbytes:
                caches.remove(oldest)

    def _retire(self, name: str, evictions: list[int]) -> None:
        self._retired_evictions[name] = self._retired_evictions.get(name, 0) + evictions[0]


class BudgetedCache(Generic[K, V]):
    """An LRU map whose entries count against a `CacheBudget` (see module)."""

    def __init__(
        self,
        budget: CacheBudget,
        name: str,
        sizing: Sizing,
        *,
        max_entries: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.budget = budget
        self.name = name
        self.sizing = sizing
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._entries: OrderedDict[K, _Entry] = OrderedDict()
        # A box, so the budget can still read the count after this cache is gone.
        self._evictions_box = [0]

    @property
    def evictions(self) -> int:
        return self._evictions_box[0]

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[K]:
        """The keys, least recently used first."""
        return iter(list(self._entries))

    def get(self, key: K, default: Any = None) -> Any:
        """The value under `key` (now the most recently used), else `default`."""
        entry = self._entries.get(key)
        if entry is None:
            return default
        self._entries.move_to_end(key)
        entry.used = next(self.budget._clock)  # `_tick`, without the call: gets are hot
        return entry.value

    def put(self, key: K, value: V, nbytes: int) -> None:
        """Keep `value`, counted as `nbytes` (plus the entry's own overhead); then evict
        what the cache's bounds or the budget no longer allow (possibly this entry)."""
        nbytes += ENTRY_OVERHEAD
        replaced = self._entries.pop(key, None)
        if replaced is not None:
            self.nbytes -= replaced.nbytes
        self._entries[key] = _Entry(value, nbytes, self.budget._tick())
        self.nbytes += nbytes
        while self._entries and (
            (self.max_entries is not None and len(self._entries) > self.max_entries)
            or (self.max_bytes is not None and self.nbytes > self.max_bytes)
        ):
            self._evict_oldest()
        if self.nbytes and self.budget.used > self.budget.max_bytes:
            self.budget._enforce()

    def pop(self, key: K, default: Any = None) -> Any:
        """Remove an entry (not an eviction: the caller knows it is no longer right)."""
        entry = self._entries.pop(key, None)
        if entry is None:
            return default
        self.nbytes -= entry.nbytes
        return entry.value

    def peek(self, key: K, default: Any = None) -> Any:
        """The value under `key` without counting a use."""
        entry = self._entries.get(key)
        return default if entry is None else entry.value

    def clear(self) -> None:
        self._entries.clear()
        self.nbytes = 0

    def _oldest_use(self) -> int:
        return next(iter(self._entries.values())).used

    def _evict_oldest(self) -> int:
        _key, entry = self._entries.popitem(last=False)
        self.nbytes -= entry.nbytes
        self._evictions_box[0] += 1
        return entry.nbytes


_MISSING = object()


def memoized(
    cache: BudgetedCache[Any, Any], function: Callable[..., R], size: Callable[..., int]
) -> Callable[..., R]:
    """`function` remembered per positional arguments in `cache`, each answer counted as
    `size(*args)` bytes (an `lru_cache` that draws on a budget)."""

    def remembered(*args: Hashable) -> R:
        known = cache.get(args, _MISSING)
        if known is not _MISSING:
            return known  # type: ignore[no-any-return]
        answer = function(*args)
        cache.put(args, answer, size(*args))
        return answer

    return remembered


_LEAVES = (str, bytes, int, float, bool, type(None))


def tree_bytes(value: object) -> int:
    """The measured bytes of a JSON-like tree (dicts, lists, tuples and scalars): the
    sum of `sys.getsizeof` over its nodes, shared nodes counted each time (an upper
    bound). Other objects count their shallow size only."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif not isinstance(item, _LEAVES):
            continue
    return total
