"""The door: auth on everything, CSRF preflight, limits, masking, GraphiQL offline, media URLs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest
import pytest_asyncio

from api.settings import Settings
from tests.conftest import Api, start_api
from tests.images import jpeg

Q = {"query": "{ meImages { id } }"}


async def test_every_operation_needs_a_valid_token(api: Api, owner: str) -> None:
    settings = api.app.state.server.settings
    expired = jwt.encode(
        {"sub": owner, "exp": int(time.time()) - 3600}, settings.jwt_secret, "HS256"
    )
    forged = jwt.encode({"sub": owner, "exp": int(time.time()) + 3600}, "not-the-secret", "HS256")
    no_sub = jwt.encode({"exp": int(time.time()) + 3600}, settings.jwt_secret, "HS256")
    none_alg = jwt.encode({"sub": owner, "exp": int(time.time()) + 3600}, None, "none")
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {api.token(owner)}"},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": f"Bearer {no_sub}"},
        {"Authorization": f"Bearer {none_alg}"},
    ):
        response = await api.client.post("/graphql", json=Q, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert response.headers["www-authenticate"] == "Bearer"
    response = await api.client.post("/graphql", json=Q, headers=api.headers(owner))
    assert response.status_code == 200


async def test_csrf_preflight_header_required_for_simple_requests(api: Api, owner: str) -> None:
    auth = api.headers(owner)
    mutation = "mutation { setAiUsesReferenceImages(enabled: false) { aiUsesReferenceImages } }"
    refused = [
        await api.client.get("/graphql", params={"query": "{ meImages { id } }"}, headers=auth),
        await api.client.post(
            "/graphql", content=mutation, headers={**auth, "content-type": "text/plain"}
        ),
        await api.client.post(
            "/graphql",
            data={"query": mutation},
            headers={**auth, "content-type": "application/x-www-form-urlencoded"},
        ),
        await api.client.post(
            "/graphql",
            data={"operations": '{"query": "' + mutation + '"}', "map": "{}"},
            files={"x": ("a", b"a", "text/plain")},
            headers=auth,
        ),
    ]
    for response in refused:
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_PREFLIGHT_REQUIRED"
    # Nothing changed.
    profile = await api.gql("{ profile { aiUsesReferenceImages } }", user=owner)
    assert profile["profile"]["aiUsesReferenceImages"] is True
    # With the header, GET queries work; GET mutations never do.
    ok = await api.client.get(
        "/graphql",
        params={"query": "{ meImages { id } }"},
        headers={**auth, "GraphQL-Require-Preflight": "1"},
    )
    assert ok.status_code == 200 and ok.json() == {"data": {"meImages": []}}
    get_mutation = await api.client.get(
        "/graphql", params={"query": mutation}, headers={**auth, "Apollo-Require-Preflight": "1"}
    )
    assert get_mutation.status_code == 405
    assert (await api.gql("{ profile { aiUsesReferenceImages } }", user=owner))["profile"][
        "aiUsesReferenceImages"
    ] is True


async def test_query_shape_limits(api: Api, owner: str) -> None:
    auth = api.headers(owner)
    deep = "{ profile { avatar { usage { aiReference } } } }"
    assert (
        await api.client.post("/graphql", json={"query": deep}, headers=auth)
    ).status_code == 200
    aliases = "{ " + " ".join(f"a{i}: profile {{ ownerId }}" for i in range(40)) + " }"
    response = await api.client.post("/graphql", json={"query": aliases}, headers=auth)
    assert "aliases" in response.json()["errors"][0]["message"].lower()
    tokens = "{ meImages { " + " ".join(["id"] * 2500) + " } }"
    response = await api.client.post("/graphql", json={"query": tokens}, headers=auth)
    assert "token" in response.json()["errors"][0]["message"].lower()
    assert not response.json().get("data")
    fragments = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    response = await api.client.post("/graphql", json={"query": fragments}, headers=auth)
    assert response.json()["errors"]
    wide = "{ " + " ".join(f"a{i}: profile {{ ownerId }}" for i in range(10)) + " }"
    response = await api.client.post("/graphql", json={"query": wide}, headers=auth)
    assert response.status_code == 200 and "errors" not in response.json()


async def test_graphql_response_json_media_type_and_status(api: Api, owner: str) -> None:
    headers = {**api.headers(owner), "Accept": "application/graphql-response+json"}
    ok = await api.client.post("/graphql", json=Q, headers=headers)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("application/graphql-response+json")
    bad = await api.client.post("/graphql", json={"query": "{ nope }"}, headers=headers)
    assert bad.status_code == 400
    assert "data" not in bad.json()
    parse = await api.client.post("/graphql", json={"query": "{"}, headers=headers)
    assert parse.status_code == 400 and "data" not in parse.json()


async def test_healthz_and_offline_graphiql(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    page = await api.client.get("/graphiql")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert "https://" not in html and "http://" not in html  # no CDN
    import re

    assets = re.findall(r'(?:src|href)="(/graphiql/assets/[^"]+)"', html)
    assert len(assets) >= 4
    for asset in assets:
        response = await api.client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 100
    redirect = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert redirect.status_code == 302 and redirect.headers["location"] == "/graphiql"


async def test_signed_media_urls_expire_and_resist_tampering(api: Api, owner: str) -> None:
    image = await api.upload(jpeg(41), user=owner)
    url = image["thumbnailUrl"]
    # An <img>-style fetch: no Authorization header at all.
    ok = await api.client.get(url)
    assert ok.status_code == 200
    assert ok.headers["content-type"] == "image/webp"
    assert ok.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in ok.headers["content-security-policy"]
    etag = ok.headers["etag"]
    assert (await api.client.get(url, headers={"If-None-Match": etag})).status_code == 304
    original = await api.client.get(image["publicUrl"])
    assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"

    signer = api.app.state.server.urls
    missing = await api.client.get(
        "/media/00000000-0000-0000-0000-000000000000/original?exp=9999999999&sig=x"
    )
    expired_url = signer.url(image["mediaId"], "original", owner, now=time.time() - 10 * 86400)
    tampered = image["publicUrl"][:-1] + ("0" if image["publicUrl"][-1] != "0" else "1")
    swapped = image["publicUrl"].replace("/original?", "/thumbnail?")
    other_owner_sig = signer.url(image["mediaId"], "original", "someone-else")
    for bad in (expired_url, tampered, swapped, other_owner_sig, image["publicUrl"].split("?")[0]):
        response = await api.client.get(bad)
        assert response.status_code == 404, bad
        assert response.content == missing.content


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def production(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    tmp: Path = tmp_path_factory.mktemp("prod")
    settings = Settings(
        data_dir=tmp, database_url=f"sqlite+aiosqlite:///{tmp / 'p.db'}", production=True
    )
    app, client = await start_api(settings, "sqlite")
    yield Api(app=app, client=client, settings=settings, backend="sqlite")
    await client.aclose()
    await app.state.server.stores.db.dispose()


async def test_production_mode_hides_schema(production: Api, owner: str) -> None:
    auth = production.headers(owner)
    response = await production.client.post(
        "/graphql", json={"query": "{ __schema { types { name } } }"}, headers=auth
    )
    assert response.json()["errors"] and not response.json().get("data")
    for query in (
        "{ meImagez { id } }",
        "{ meImages { idd } }",
        "{ meImages(kindd: FACE) { id } }",
        "{ meImages(kind: FAC) { id } }",
    ):
        response = await production.client.post("/graphql", json={"query": query}, headers=auth)
        errors = response.json()["errors"]
        assert errors
        assert all("Did you mean" not in e["message"] for e in errors), errors
    assert (await production.client.get("/graphiql")).status_code == 404
    assert (
        await production.client.get("/graphql", headers={"Accept": "text/html"})
    ).status_code == 404
    # Development mode does suggest (so the production check above is meaningful).


async def test_development_mode_suggests(api: Api, owner: str) -> None:
    response = await api.client.post(
        "/graphql", json={"query": "{ meImagez { id } }"}, headers=api.headers(owner)
    )
    assert "Did you mean" in response.json()["errors"][0]["message"]


async def test_unexpected_errors_are_masked(
    api: Api, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resolvers import me_images

    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setattr(me_images, "list_images", boom)
    response = await api.client.post("/graphql", json=Q, headers=api.headers(owner))
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == "Internal server error."
    assert "secret" not in response.text and "Traceback" not in response.text


async def test_cors_for_configured_front_end_origins(tmp_path: Path, owner: str) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
        allowed_origins=("https://app.example",),
    )
    app, client = await start_api(settings, "sqlite")
    api = Api(app=app, client=client, settings=settings, backend="sqlite")
    try:
        preflight = await client.options(
            "/graphql",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-credentials" not in preflight.headers
        response = await client.post(
            "/graphql", json=Q, headers={**api.headers(owner), "Origin": "https://app.example"}
        )
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        assert "etag" in response.headers["access-control-expose-headers"].lower()
        foreign = await client.options(
            "/graphql",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert foreign.status_code == 400
        assert "access-control-allow-origin" not in foreign.headers
    finally:
        await client.aclose()
        await app.state.server.stores.db.dispose()


async def test_subscription_over_plain_http_is_a_clear_client_error(api: Api, owner: str) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": "subscription { meImageEvents { __typename } }"},
        headers=api.headers(owner),
    )
    assert response.status_code == 400
    assert "WebSocket" in response.text and "Server-Sent Events" in response.text
