"""Query texts by their SHA-256, as automatic persisted query clients registered them.

On Redis when a URL is given (every instance sees what a client registered at another),
else in this process's memory, the least recently used dropped past `max_entries`.
"""

from __future__ import annotations

from collections import OrderedDict

import redis.asyncio

# Registered texts expire on Redis after this long unused; clients simply register again.
TTL_S = 30 * 86400


class PersistedDocuments:
    def __init__(
        self, redis_url: str = "", *, key_prefix: str = "meimages", max_entries: int = 10_000
    ) -> None:
        self.redis = redis.asyncio.Redis.from_url(redis_url) if redis_url else None
        self.prefix = f"{key_prefix}:apq:"
        self.max_entries = max_entries
        self._memory: OrderedDict[str, str] = OrderedDict()

    async def get(self, sha256: str) -> str | None:
        if self.redis is not None:
            value = await self.redis.getex(self.prefix + sha256, ex=TTL_S)
            return value.decode() if isinstance(value, bytes) else None
        text = self._memory.get(sha256)
        if text is not None:
            self._memory.move_to_end(sha256)
        return text

    async def put(self, sha256: str, text: str) -> None:
        if self.redis is not None:
            await self.redis.set(self.prefix + sha256, text.encode(), ex=TTL_S)
            return
        self._memory[sha256] = text
        self._memory.move_to_end(sha256)
        while len(self._memory) > self.max_entries:
            self._memory.popitem(last=False)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
