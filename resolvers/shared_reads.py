"""Concurrent reads of one key that share one query, none of them answered by a query
older than itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class _Flights(Generic[V]):
    """One key's query under way, and the callers waiting for the one after it."""

    __slots__ = ("next", "runner")

    def __init__(self) -> None:
        self.next: asyncio.Future[V] | None = None
        self.runner: asyncio.Task[None] | None = None


class SharedReads(Generic[K, V]):
    """Callers of `read` with one key share one fetch, but only a fetch that began after
    they called.

    A caller finding no fetch of its key under way starts one. A caller arriving while a
    fetch is under way waits for the next one, which begins as that one ends and answers
    everyone who arrived meanwhile. So every answer is as fresh as a fetch of the caller's
    own: whatever was committed before the caller called is in it. Under a burst of one
    key the database sees about one query per round trip instead of one per caller.

    Callers of one key must want the same thing: the next fetch is the first caller's."""

    def __init__(self) -> None:
        self._keys: dict[K, _Flights[V]] = {}

    async def read(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        loop = asyncio.get_running_loop()
        flights = self._keys.get(key)
        if flights is None:
            answer: asyncio.Future[V] = loop.create_future()
            flights = self._keys[key] = _Flights()
            # A task of its own: a caller that goes away (its client hung up) must not
            # take the others' answer with it. `runner` keeps a reference to the task.
            flights.runner = loop.create_task(self._fly(key, flights, answer, fetch))
        else:
            if flights.next is None:
                flights.next = loop.create_future()
            answer = flights.next
        return await asyncio.shield(answer)

    async def _fly(
        self,
        key: K,
        flights: _Flights[V],
        answer: asyncio.Future[V],
        fetch: Callable[[], Awaitable[V]],
    ) -> None:
        try:
            while True:
                try:
                    answer.set_result(await fetch())
                except Exception as error:
                    answer.set_exception(error)
                    answer.exception()  # retrieved, in case every caller has gone
                if flights.next is None:
                    return
                answer, flights.next = flights.next, None
        finally:
            # In the step that found no one waiting, so no caller can join in between.
            del self._keys[key]
            for pending in (answer, flights.next):
                if pending is not None and not pending.done():
                    pending.cancel()  # the fetch was cancelled (the server stops)

    def __len__(self) -> int:
        """Keys with a fetch under way."""
        return len(self._keys)
