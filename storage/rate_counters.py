"""Moving-window counters for rate limits, on the `limits` library.

In this process's memory by default (the embedded single-process setup); on Redis when a
URL is given, so every instance sharing that Redis counts against the same windows. Each
hit is atomic in both backends (a lock per key in memory, one Lua script on Redis), which
is what makes "N allowed" exact under concurrent callers.
"""

from __future__ import annotations

import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import MovingWindowRateLimiter


class RateCounters:
    """Named moving windows, one per (rule, subject); `redis_url` empty means memory."""

    def __init__(self, redis_url: str = "", *, key_prefix: str = "meimages") -> None:
        self.redis_url = redis_url
        self.key_prefix = key_prefix
        self._limiter: MovingWindowRateLimiter | None = None

    @property
    def limiter(self) -> MovingWindowRateLimiter:
        # Made on first use, inside the serving event loop: the memory backend schedules
        # its expiry task on the loop that is current when it is created.
        if self._limiter is None:
            self._limiter = MovingWindowRateLimiter(self._storage())
        return self._limiter

    def _storage(self) -> Storage:
        if self.redis_url:
            return RedisStorage(
                f"async+{self.redis_url}",
                implementation="redispy",
                key_prefix=f"{self.key_prefix}:rate",
            )
        return MemoryStorage()

    async def acquire(self, rule: str, subject: str, amount: int, per_s: int) -> float | None:
        """Take one entry of `amount` per `per_s` seconds; None when taken, else the
        seconds until the oldest entry leaves the window (when a retry can succeed)."""
        item = RateLimitItemPerSecond(amount, per_s, namespace=rule)
        if await self.limiter.hit(item, subject):
            return None
        stats = await self.limiter.get_window_stats(item, subject)
        return max(stats.reset_time - time.time(), 0.0)

    async def close(self) -> None:
        storage = self._limiter.storage if self._limiter is not None else None
        if isinstance(storage, RedisStorage) and isinstance(storage.bridge, RedispyBridge):
            # The client is redis-py's asyncio Redis; the bridge types it as a protocol.
            await storage.bridge.get_connection().aclose()  # type: ignore[attr-defined]
