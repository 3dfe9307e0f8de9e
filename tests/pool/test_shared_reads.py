"""`SharedReads`: what its callers get when a shared fetch fails, when one of them goes
away, and when the fetch itself is cancelled. (Its freshness, on a real database:
tests/api/test_query_cache.py.)"""

from __future__ import annotations

import asyncio

import pytest

from resolvers.shared_reads import SharedReads


class Gate:
    """A fetch that counts its calls and answers each only when let through."""

    def __init__(self) -> None:
        self.calls = 0
        self.started = asyncio.Event()
        self.through = asyncio.Event()
        self.fail = False

    async def __call__(self) -> int:
        self.calls += 1
        self.started.set()
        await self.through.wait()
        if self.fail:
            raise RuntimeError(f"fetch {self.calls} failed")
        return self.calls


async def test_a_failed_fetch_fails_its_callers_only_and_the_next_one_is_fresh() -> None:
    reads: SharedReads[str, int] = SharedReads()
    gate = Gate()
    gate.fail = True
    first = asyncio.create_task(reads.read("k", gate))
    await gate.started.wait()
    waiting = [asyncio.create_task(reads.read("k", gate)) for _ in range(3)]
    await asyncio.sleep(0)  # they join the next fetch
    gate.through.set()
    with pytest.raises(RuntimeError, match="fetch 1 failed"):
        await first
    for caller in waiting:  # theirs was the second fetch, which failed on its own
        with pytest.raises(RuntimeError, match="fetch 2 failed"):
            await caller
    gate.fail = False
    assert await reads.read("k", gate) == 3
    assert len(reads) == 0


async def test_a_caller_that_goes_away_leaves_the_fetch_to_the_others() -> None:
    reads: SharedReads[str, int] = SharedReads()
    gate = Gate()
    first = asyncio.create_task(reads.read("k", gate))
    await gate.started.wait()
    gone, staying = (asyncio.create_task(reads.read("k", gate)) for _ in range(2))
    await asyncio.sleep(0)
    first.cancel()
    gone.cancel()
    gate.through.set()
    assert await staying == 2
    assert first.cancelled() and gone.cancelled()
    assert len(reads) == 0


async def test_keys_do_not_share_and_a_cancelled_fetch_leaves_nothing_behind() -> None:
    reads: SharedReads[str, int] = SharedReads()
    gate = Gate()
    a = asyncio.create_task(reads.read("a", gate))
    b = asyncio.create_task(reads.read("b", gate))
    await gate.started.wait()
    await asyncio.sleep(0)
    assert gate.calls == 2 and len(reads) == 2
    next_a = asyncio.create_task(reads.read("a", gate))
    await asyncio.sleep(0)
    # The server stops: its fetches are cancelled, and so is everyone waiting on them.
    for task in asyncio.all_tasks():
        if task.get_coro().__qualname__.startswith("SharedReads._fly"):  # type: ignore[union-attr]
            task.cancel()
    for caller in (a, b, next_a):
        with pytest.raises(asyncio.CancelledError):
            await caller
    assert len(reads) == 0
