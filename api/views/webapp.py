"""The web app at `/`: the built Svelte app (web/ -> api/static/app/), under a strict CSP.

Only files present at start-up are served (no path from a request reaches the file system).
Hashed assets are cached for a year; the page itself is revalidated every time, so a new
build is picked up on the next load. Precompressed `.br` / `.gz` siblings written by the
build are sent to clients that accept them.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

APP_DIR = Path(__file__).resolve().parents[1] / "static" / "app"
# Client-side pages; each answers with the same index.html.
PAGES = ("/", "/generate", "/history", "/data")
IMMUTABLE = "public, max-age=31536000, immutable"
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def content_security_policy(media_origin: str = "") -> str:
    """No inline script or style; media (signed URLs) from this server or its public base."""
    images = " ".join(filter(None, ["'self'", "blob:", "data:", media_origin]))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; manifest-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class WebApp:
    """Serves one build directory; built once per app instance."""

    def __init__(self, directory: Path = APP_DIR, public_base_url: str = "") -> None:
        self.directory = directory
        self.files = {
            "/" + path.relative_to(directory).as_posix(): path
            for path in sorted(directory.rglob("*"))
            if path.is_file() and path.suffix not in (".br", ".gz")
        }
        self.headers = {
            "Content-Security-Policy": content_security_policy(_origin(public_base_url)),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "same-origin",
        }

    def routes(self) -> list[Route]:
        pages = [Route(path, self.page, methods=["GET", "HEAD"]) for path in PAGES]
        assets = [
            Route(path, self.asset, methods=["GET", "HEAD"])
            for path in self.files
            if path != "/index.html"
        ]
        return pages + assets

    async def page(self, request: Request) -> Response:
        index = self.files.get("/index.html")
        if index is None:
            return PlainTextResponse(
                "The web app is not built: run `npm ci && npm run build` in web/.", 503
            )
        return self._file(request, index, "no-cache", "text/html; charset=utf-8")

    async def asset(self, request: Request) -> Response:
        path = self.files[request.url.path]
        cache = IMMUTABLE if request.url.path.startswith("/assets/") else "public, max-age=3600"
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type.endswith(("javascript", "json")):
            media_type += "; charset=utf-8"
        return self._file(request, path, cache, media_type)

    def _file(self, request: Request, path: Path, cache: str, media_type: str) -> Response:
        headers = {**self.headers, "Cache-Control": cache, "Vary": "Accept-Encoding"}
        accepted = _accepted_encodings(request.headers.get("accept-encoding", ""))
        for encoding, suffix in ENCODINGS:
            compressed = path.with_name(path.name + suffix)
            if encoding in accepted and compressed.is_file():
                headers["Content-Encoding"] = encoding
                return FileResponse(compressed, media_type=media_type, headers=headers)
        return FileResponse(path, media_type=media_type, headers=headers)


def _accepted_encodings(header: str) -> set[str]:
    accepted = set()
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        if params.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            continue
        accepted.add(name.strip().lower())
    return accepted


def webapp_routes(public_base_url: str = "") -> list[Route]:
    """The routes of the web app, to append after the API's own."""
    return WebApp(APP_DIR, public_base_url).routes()
