"""What every resolver receives: the stores, the authenticated caller, the URL signer."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.stores import Caller, Stores


class NotAuthenticated(Exception):
    """Raised when a field runs without a caller; the HTTP and WebSocket doors prevent it."""


@dataclass
class RequestContext:
    stores: Stores
    urls: MediaUrlSigner
    caller: Caller | None = None
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def require_caller(self) -> Caller:
        if self.caller is None:
            raise NotAuthenticated("authentication required")
        # A WebSocket outlives its token; operations sent after expiry (plus the same
        # 30 s clock leeway the token check allows) are refused.
        expires = self.extra.get("token_exp")
        if expires is not None and expires + 30 < time.time():
            raise NotAuthenticated("the token has expired; reconnect with a fresh one")
        return self.caller


Info = StrawberryInfo[RequestContext, None]
