"""How the server serves the web app: the pages under a strict CSP, hashed assets cached for
good and precompressed, and every API route still answering as before."""

from __future__ import annotations

import fnmatch
import gzip
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.views.webapp import content_security_policy
from tests.webapp.web import APP_DIR


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("webapp-routes"))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _assets() -> list[str]:
    html = (APP_DIR / "index.html").read_text()
    return re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)


@pytest.mark.parametrize("path", ["/", "/generate", "/history", "/data"])
def test_pages_answer_with_the_app_under_a_strict_csp(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<div id="app">' in response.text
    assert "<script>" not in response.text and "style=" not in response.text  # nothing inline


def test_the_app_is_installable_and_caches_nothing_personal(client: TestClient) -> None:
    """A web app manifest (standalone, theme colour, icons any + maskable); no service worker."""
    html = client.get("/").text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert "serviceWorker" not in html
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    assert manifest["theme_color"] == "#1f3a5f"
    icons = {(icon["sizes"], icon["purpose"]): icon["src"] for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= set(icons)
    for src in icons.values():
        icon = client.get(src)
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/png"
    # No script of the build registers a service worker (nothing personal is cached).
    for script in (APP_DIR / "assets").glob("*.js"):
        assert "serviceWorker" not in script.read_text(), script


def test_assets_are_hashed_cached_for_good_and_precompressed(client: TestClient) -> None:
    assets = _assets()
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert re.search(r"-[A-Za-z0-9_-]{8}\.(js|css)$", asset), asset  # content hash in the name
        plain = client.get(asset, headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and "content-encoding" not in plain.headers
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        gz = client.get(asset, headers={"Accept-Encoding": "gzip"})
        assert gz.headers["content-encoding"] == "gzip" and gz.headers["vary"] == "Accept-Encoding"
        assert gz.content == plain.content  # the client undid the gzip: same bytes
        br = client.get(asset, headers={"Accept-Encoding": "br, gzip"})
        assert br.headers["content-encoding"] == "br"
        assert (
            gzip.decompress((APP_DIR / (asset.lstrip("/") + ".gz")).read_bytes()) == plain.content
        )


def test_only_built_files_are_served(client: TestClient) -> None:
    assert client.get("/assets/../index.html").status_code == 404
    assert client.get("/assets/nothing.js").status_code == 404
    assert client.get("/nowhere").status_code == 404
    assert client.post("/").status_code == 405


def test_the_api_routes_still_answer(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/graphiql").status_code == 200
    unauthenticated = client.post("/graphql", json={"query": "{ profile { ownerId } }"})
    assert unauthenticated.status_code == 401
    assert client.get("/media/nothing/thumb").status_code == 404
    assert client.post("/api/v1/profile/me-images/upload").status_code == 401


def test_media_from_a_public_base_url_may_be_shown() -> None:
    assert "img-src 'self' blob: data: https://cdn.example;" in content_security_policy(
        "https://cdn.example"
    )


def test_the_build_is_in_the_package_data() -> None:
    # Namespace discovery makes api/static/app a package; its files ship when their
    # names match the package-data patterns.
    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["*"]
    built = [p for p in (root / "api" / "static" / "app").rglob("*") if p.is_file()]
    assert built
    for path in built:
        assert any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns), path
