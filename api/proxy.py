"""Behind a reverse proxy: whose `X-Forwarded-*` headers are believed, and what they change.

Only peers in `MEIMAGES_TRUSTED_PROXIES` are believed; anyone else's forwarded headers are
ignored. From a trusted proxy, `X-Forwarded-For` and `X-Forwarded-Proto` become the
client address and scheme (uvicorn's middleware), and `X-Forwarded-Host` becomes the
origin of media URLs when `MEIMAGES_PUBLIC_BASE_URL` does not set one.

Media URLs are absolute in every door (GraphQL, REST, MCP): under the public base URL,
else under the origin the request was sent to (`request_origin`), so a mobile or server
client never has to guess the base.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from resolvers.media.signed_urls import MediaUrlSigner

# Where the proxy's public origin is kept for the rest of the request.
FORWARDED_ORIGIN = "meimages.forwarded_origin"
# A host name or address with an optional port: nothing that could bend a URL.
_HOST = re.compile(rb"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")


class ForwardedHeaders:
    def __init__(self, app: ASGIApp, *, trusted: tuple[str, ...], origin_from_host: bool) -> None:
        self.origin_from_host = origin_from_host
        self._record_origin = _RecordOrigin(app, origin_from_host)
        self.app = ProxyHeadersMiddleware(self._record_origin, trusted_hosts=list(trusted))  # type: ignore[arg-type]
        self._trusted = self.app.trusted_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            # Decided on the peer itself, before uvicorn replaces it with the forwarded one.
            scope[_TRUSTED_PEER] = client is not None and client[0] in self._trusted
        await self.app(scope, receive, send)  # type: ignore[arg-type]


_TRUSTED_PEER = "meimages.trusted_peer"


class _RecordOrigin:
    def __init__(self, app: ASGIApp, enabled: bool) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.enabled and scope.get(_TRUSTED_PEER):
            host = _forwarded_host(scope["headers"])
            if host is not None:
                scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
                scope[FORWARDED_ORIGIN] = f"{scheme}://{host}"
        await self.app(scope, receive, send)


def _forwarded_host(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"x-forwarded-host":
            first = value.split(b",")[0].strip()
            return first.decode("ascii").lower() if _HOST.fullmatch(first) else None
    return None


def forwarded_origin(scope: Scope) -> str | None:
    origin = scope.get(FORWARDED_ORIGIN)
    return origin if isinstance(origin, str) else None


def request_origin(scope: Scope) -> str:
    """The origin a client reached this server at: a trusted proxy's forwarded host, else
    the request's own Host header (when it is a plain host), else the listening address."""
    forwarded = forwarded_origin(scope)
    if forwarded is not None:
        return forwarded
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    for name, value in scope.get("headers", ()):
        if name == b"host":
            if _HOST.fullmatch(value):
                return f"{scheme}://{value.decode('ascii').lower()}"
            break
    host, port = scope.get("server") or ("localhost", None)
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" if port is None else f"{scheme}://{host}:{port}"


def signer_for(urls: MediaUrlSigner, scope: Scope) -> MediaUrlSigner:
    """The signer of this request: absolute URLs, under the public base URL when one is
    set (then `urls` already makes them), else under `request_origin`."""
    if not urls.prefix.startswith("/"):
        return urls
    return urls.under(request_origin(scope) + urls.prefix)
