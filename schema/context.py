"""What every resolver receives: the stores, the authenticated caller, the URL signer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.stores import Caller, Stores
from schema.tokens import seconds_left


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
    # The origin the request reached (see `api.proxy.request_origin`): what makes a
    # relative URL absolute (media URLs come absolute from `urls` already).
    origin: str = ""
    # When a compiled plan started this operation before handing it to graphql-core (a
    # mutation replayed, `api.compiler.mutations`): its time counts from there.
    started_at: float | None = None

    def absolute(self, url: str) -> str:
        return self.origin + url if url.startswith("/") else url

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
        return seconds_left(self.token_expires_at())


Info = StrawberryInfo[RequestContext, None]
