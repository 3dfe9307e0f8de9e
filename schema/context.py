"""What every resolver receives: the stores, the authenticated caller, the URL signer."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from resolvers.signed_urls import MediaUrlSigner
from resolvers.stores import Caller, Stores

# Clock skew forgiven between the token's issuer and this server: the HTTP and WebSocket
# doors (jwt leeway), operations on an open WebSocket and subscriptions all honour a token
# until `exp + TOKEN_LEEWAY_S`.
TOKEN_LEEWAY_S = 30


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
        # A WebSocket outlives its token; operations sent after it expired are refused.
        remaining = self.token_remaining_s()
        if remaining is not None and remaining < 0:
            raise NotAuthenticated("the token has expired; reconnect with a fresh one")
        return self.caller

    def token_expires_at(self) -> float | None:
        """The token's `exp` claim (epoch seconds), when the caller came with one."""
        expires: float | None = self.extra.get("token_exp")
        return expires

    def token_remaining_s(self) -> float | None:
        """Seconds the token is still honoured (leeway included); None when it never ends."""
        expires = self.token_expires_at()
        return None if expires is None else expires + TOKEN_LEEWAY_S - time.time()


Info = StrawberryInfo[RequestContext, None]
