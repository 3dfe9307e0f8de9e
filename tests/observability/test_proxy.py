"""Behind a proxy: forwarded headers count only from trusted peers; from them, absolute
media URLs name the proxy's host when MEIMAGES_PUBLIC_BASE_URL does not (and the origin the
request was sent to otherwise)."""

from __future__ import annotations

from pathlib import Path

import httpx

from testbed.graphql import PREFLIGHT, upload_form
from testbed.images import jpeg
from testbed.server import LiveServer, deployment_secrets, start_server
from tests.observability.conftest import in_process_server, in_process_settings
from tests.support.provider_server import ProviderServer

FORWARDED = {
    "X-Forwarded-Host": "photos.example",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "203.0.113.9",
}
LIST = "{ meImages { publicUrl thumbnailUrl } }"


async def _urls(http: httpx.AsyncClient, server: LiveServer, extra: dict[str, str]) -> list[str]:
    headers = {**server.headers("proxied"), **extra}
    response = await http.post(server.graphql_url, headers=headers, json={"query": LIST})
    images = response.json()["data"]["meImages"]
    return [url for image in images for url in (image["publicUrl"], image["thumbnailUrl"])]


async def _with_an_image(http: httpx.AsyncClient, server: LiveServer) -> None:
    headers = {**server.headers("proxied"), **PREFLIGHT}
    upload = await http.post(server.graphql_url, headers=headers, **upload_form(jpeg(11)))
    assert upload.json()["data"]["uploadMeImage"]["__typename"] == "MeImage"


async def test_a_trusted_proxy_sets_the_origin_of_media_urls(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    settings = {**deployment_secrets(), "MEIMAGES_TRUSTED_PROXIES": "127.0.0.1/32"}
    server = start_server(tmp_path, settings)
    try:
        await _with_an_image(http, server)
        proxied = await _urls(http, server, FORWARDED)
        assert proxied and all(u.startswith("https://photos.example/media/") for u in proxied)
        # The same query without the headers is not answered from the proxied cache entry:
        # its URLs are under the origin the request was sent to.
        direct = await _urls(http, server, {})
        assert direct and all(u.startswith(f"{server.url}/media/") for u in direct), direct
        # The absolute URL works through the "proxy" (here: straight to the server).
        path = proxied[0].removeprefix("https://photos.example")
        assert (await http.get(server.url + path)).status_code == 200
        # A forwarded host that could bend a URL is ignored.
        bent = await _urls(http, server, {**FORWARDED, "X-Forwarded-Host": "evil.example/x?"})
        # (the request's own host then, with the scheme the trusted proxy forwarded)
        own = server.url.replace("http://", "https://", 1)
        assert bent and all(u.startswith(f"{own}/media/") for u in bent), bent
        # The REST upload answers with the same absolute URLs.
        rest = await http.post(
            server.url + "/api/v1/profile/me-images/upload",
            headers={**server.headers("proxied"), **PREFLIGHT, **FORWARDED},
            files={"file": ("p.jpg", jpeg(12), "image/jpeg")},
        )
        assert rest.status_code == 201, rest.text
        assert rest.json()["publicUrl"].startswith("https://photos.example/media/")
    finally:
        server.stop()


async def test_an_untrusted_peer_s_forwarded_headers_are_ignored(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    settings = {**deployment_secrets(), "MEIMAGES_TRUSTED_PROXIES": "10.0.0.0/8"}
    server = start_server(tmp_path, settings)
    try:
        await _with_an_image(http, server)
        urls = await _urls(http, server, FORWARDED)
        assert urls and all(u.startswith(f"{server.url}/media/") for u in urls), urls
    finally:
        server.stop()


async def test_a_public_base_url_wins_over_forwarded_hosts(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    settings = {
        **deployment_secrets(),
        "MEIMAGES_TRUSTED_PROXIES": "127.0.0.1",
        "MEIMAGES_PUBLIC_BASE_URL": "https://media.example",
    }
    server = start_server(tmp_path, settings)
    try:
        await _with_an_image(http, server)
        urls = await _urls(http, server, FORWARDED)
        assert urls and all(u.startswith("https://media.example/media/") for u in urls), urls
    finally:
        server.stop()


async def test_the_client_address_comes_from_x_forwarded_for_only_when_trusted(
    tmp_path: Path, provider_server: ProviderServer
) -> None:
    """Seen where the server records a client address: its trace's server span."""
    trusted = in_process_settings(tmp_path / "a", provider_server, trusted_proxies=("127.0.0.1",))
    untrusted = in_process_settings(
        tmp_path / "b", provider_server, trusted_proxies=("10.0.0.0/8",)
    )
    seen = []
    for settings in (trusted, untrusted):
        async with in_process_server(settings) as server:
            async with httpx.AsyncClient(timeout=30) as http:
                answer = await http.get(f"{server.url}/readyz", headers=FORWARDED)
            assert answer.status_code == 200
            rid = answer.headers["x-request-id"]
            span = await server.server_span(rid)
            attributes = span.attributes or {}
            seen.append(attributes.get("net.peer.ip", attributes.get("client.address")))
    assert seen == ["203.0.113.9", "127.0.0.1"]
