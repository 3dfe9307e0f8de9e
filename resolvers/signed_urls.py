"""Media URLs that work in an `<img src>` without a token, for a limited time only."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

VARIANTS = ("original", "thumbnail")


class MediaUrlSigner:
    """HMAC over media id, variant, owner and expiry; the owner never appears in the URL."""

    def __init__(self, secret: bytes, *, ttl_s: int = 3600, prefix: str = "/media") -> None:
        self._secret = secret
        self.ttl_s = ttl_s
        self.prefix = prefix.rstrip("/")

    def _sig(self, media_id: str, variant: str, owner_id: str, expires: int) -> str:
        msg = "\x1f".join(("meimages/media/v1", media_id, variant, owner_id, str(expires)))
        return hmac.new(self._secret, msg.encode(), hashlib.sha256).hexdigest()[:43]

    def url(self, media_id: str, variant: str, owner_id: str, *, now: float | None = None) -> str:
        # Expiry rounded up to a step, so URLs stay byte-identical (and cacheable) for a while.
        step = max(60, self.ttl_s // 4)
        t = int(now if now is not None else time.time())
        expires = ((t + self.ttl_s) // step + 1) * step
        query = urlencode({"exp": expires, "sig": self._sig(media_id, variant, owner_id, expires)})
        return f"{self.prefix}/{media_id}/{variant}?{query}"

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
        try:
            exp = int(expires)
        except ValueError:
            return False
        expected = self._sig(media_id, variant, owner_id, exp)
        fresh = exp >= int(now if now is not None else time.time())
        return hmac.compare_digest(expected, sig) and fresh
