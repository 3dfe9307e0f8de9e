"""Media URLs that work in an `<img src>` without a token, for a limited time only.

A URL names a media id and a variant — `original`, `thumbnail`, `medium`, or a transform
such as `w320h240-cover.webp` — and carries `exp` and `sig`: an HMAC over the media id,
the variant, the owner and the expiry. The owner never appears in the URL, so a URL
cannot be re-pointed at another owner's media, and a leaked URL dies at `exp`.

A signature says who may see the media, not whether it still exists: the media route
checks on every request that the media has not been revoked (its image deleted, its
owner purged), so deleting ends every URL at once, long before `exp`. The space is
not signed: a media id belongs to one space for good (the route reads it from the
row), and URLs are only handed out to callers of that space.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from resolvers.cache_budget import BudgetedCache, CacheBudget, Sizing

# The named variants every stored image has; transforms are named by their spec.
VARIANTS = ("original", "thumbnail", "medium")
_MAX_EXPIRES_DIGITS = 12
_REMEMBERED_URLS = 100_000
# An entry's bytes besides its URL text: the key tuple and the string's own header (the ids
# in the key are the image's own strings, counted with the image); measured, 436 bytes
# an entry in all with a 117-character URL against 445 counted.
_URL_ENTRY_BYTES = 168


class UrlMemo:
    """The signed URLs of the current expiry step, which a signer and every one made
    `under` it share. Every URL is made anew once the step moves on, so the memo then
    starts afresh: what it holds is the media asked for within one step, never the URLs of
    images deleted long ago or of owners who have gone."""

    def __init__(self, cache: BudgetedCache[Any, Any]) -> None:
        self.cache = cache
        self.step = 0

    def get(self, key: tuple[str, ...], expires: int) -> str | None:
        if expires != self.step:
            if expires < self.step:
                return None  # a URL for an earlier moment (a caller's own `now`)
            self.cache.clear()
            self.step = expires
        url: str | None = self.cache.get(key)
        return url

    def put(self, key: tuple[str, ...], expires: int, url: str) -> None:
        if expires == self.step:
            self.cache.put(key, url, _URL_ENTRY_BYTES + len(url))


def url_memo(budget: CacheBudget) -> UrlMemo:
    """The memo of signed URLs that a signer and every one made `under` it share."""
    return UrlMemo(budget.cache("signed_urls", Sizing.ENCODED, max_entries=_REMEMBERED_URLS))


_MAX_PREFIXES = 64


class MediaUrlSigner:
    """HMAC over media id, variant, owner and expiry; the owner never appears in the URL."""

    def __init__(
        self,
        secret: bytes,
        *,
        ttl_s: int = 3600,
        prefix: str = "/media",
        memo: UrlMemo | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("media URL lifetime must be positive")
        self._secret = secret
        self.ttl_s = ttl_s
        self._step = max(60, ttl_s // 4)
        # The time URLs expire from (a test pins it so that two servers sign alike).
        self.clock = clock
        self.prefix = prefix.rstrip("/")
        # URLs stay identical for an expiry step, and a list read signs two or three per
        # image: each is remembered for the step, and made anew once that has moved on.
        self._memo = memo if memo is not None else url_memo(CacheBudget())
        # The signers `under` made, one per prefix; a prefix may come from a Host header,
        # the client's to choose, so they are bounded.
        self._under: dict[str, MediaUrlSigner] = {}

    def under(self, prefix: str) -> MediaUrlSigner:
        """The same signer making URLs under another prefix (a proxy's forwarded host),
        made once per prefix."""
        signer = self._under.get(prefix)
        if signer is None:
            if len(self._under) >= _MAX_PREFIXES:
                self._under.clear()
            signer = self._under[prefix] = MediaUrlSigner(
                self._secret, ttl_s=self.ttl_s, prefix=prefix, memo=self._memo, clock=self.clock
            )
        return signer

    def _sig(self, media_id: str, variant: str, owner_id: str, expires: int) -> str:
        msg = "\x1f".join(("meimages/media/v1", media_id, variant, owner_id, str(expires)))
        return hmac.new(self._secret, msg.encode(), hashlib.sha256).hexdigest()[:43]

    def expires_at(self, *, now: float | None = None) -> int:
        """Expiry rounded up to a step, so URLs stay byte-identical (and cacheable) a while.

        A URL therefore lives between `ttl_s` and `ttl_s` plus a quarter of it (at least 60 s).
        """
        step = self._step
        t = int(now if now is not None else self.clock())
        return ((t + self.ttl_s) // step + 1) * step

    def url(self, media_id: str, variant: str, owner_id: str, *, now: float | None = None) -> str:
        # `expires_at`, in place: a list read signs two or three URLs per image.
        step = self._step
        expires = ((int(now if now is not None else self.clock()) + self.ttl_s) // step + 1) * step
        key = (self.prefix, media_id, variant, owner_id)
        known = self._memo.get(key, expires)
        if known is not None:
            return known
        # Both values are URL-safe already (digits, hex), so no encoding pass is needed.
        sig = self._sig(media_id, variant, owner_id, expires)
        url = f"{self.prefix}/{quote(media_id, safe='')}/{quote(variant, safe='')}?exp={expires}&sig={sig}"
        self._memo.put(key, expires, url)
        return url

    def verify(
        self,
        media_id: str,
        variant: str,
        owner_id: str,
        expires: str,
        sig: str,
        *,
        now: float | None = None,
    ) -> bool:
        if not expires.isdigit() or len(expires) > _MAX_EXPIRES_DIGITS:
            return False
        exp = int(expires)
        expected = self._sig(media_id, variant, owner_id, exp)
        fresh = exp > int(now if now is not None else time.time())
        # Compare first and always: the time taken must not depend on freshness.
        return hmac.compare_digest(expected.encode(), sig.encode(errors="replace")) and fresh
