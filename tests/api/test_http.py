"""The door: auth on everything, CSRF preflight, limits, masking, GraphiQL offline, media URLs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
import pytest_asyncio

from api.settings import Settings
from testbed.images import jpeg
from tests.support.app import Api, running_api

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
    async with running_api(settings, "sqlite") as running:
        yield running


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
    from resolvers.pool import me_images

    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setattr(me_images, "listed_images", boom)
    response = await api.client.post("/graphql", json=Q, headers=api.headers(owner))
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == "Internal server error."
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    # The masked error still names its request, as the response header does.
    rid = response.json()["errors"][0]["extensions"]["requestId"]
    assert rid == response.headers["x-request-id"]
    assert "secret" not in response.text and "Traceback" not in response.text


async def test_cors_for_configured_front_end_origins(tmp_path: Path, owner: str) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
        allowed_origins=("https://app.example",),
    )
    async with running_api(settings, "sqlite") as api:
        client = api.client
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


async def test_subscription_over_plain_http_is_a_clear_client_error(api: Api, owner: str) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": "subscription { meImageEvents { __typename } }"},
        headers=api.headers(owner),
    )
    assert response.status_code == 400
    assert "WebSocket" in response.text and "Server-Sent Events" in response.text


# Every request is checked before it reaches a route (api/request_checks.py) -------------

PREFLIGHT = {"GraphQL-Require-Preflight": "1"}
UPLOAD_QUERY = "mutation($f: Upload!) { uploadMeImage(file: $f) { __typename } }"


def bad_request(response: httpx.Response, status: int = 400, code: str = "BAD_REQUEST") -> None:
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == code
    assert "Internal server error" not in response.text


@pytest.mark.parametrize("body", [b"null", b"5", b'"q"', b"true", b"\xff\xfe\xfd", b"", b"  "])
async def test_json_body_that_is_no_object_is_a_400(api: Api, owner: str, body: bytes) -> None:
    headers = {**api.headers(owner), "content-type": "application/json"}
    bad_request(await api.client.post("/graphql", content=body, headers=headers))


MALFORMED_MULTIPART = {
    "map null": {
        "operations": json.dumps({"query": UPLOAD_QUERY, "variables": {"f": None}}),
        "map": "null",
    },
    "map list": {
        "operations": json.dumps({"query": UPLOAD_QUERY, "variables": {"f": None}}),
        "map": '["variables.f"]',
    },
    "number path": {
        "operations": json.dumps({"query": UPLOAD_QUERY, "variables": {"f": None}}),
        "map": '{"0": [5]}',
    },
    "nested path": {
        "operations": json.dumps({"query": UPLOAD_QUERY, "variables": {"f": None}}),
        "map": '{"0": ["variables.f.x.y"]}',
    },
    "path not null": {
        "operations": json.dumps({"query": UPLOAD_QUERY, "variables": {"f": "x"}}),
        "map": '{"0": ["variables.f"]}',
    },
    "path outside variables": {
        "operations": json.dumps({"query": UPLOAD_QUERY, "variables": {"f": None}}),
        "map": '{"0": ["query"]}',
    },
    "index out of range": {
        "operations": json.dumps({"query": UPLOAD_QUERY, "variables": {"f": [None]}}),
        "map": '{"0": ["variables.f.3"]}',
    },
    "missing file part": {
        "operations": json.dumps({"query": UPLOAD_QUERY, "variables": {"f": None}}),
        "map": '{"9": ["variables.f"]}',
    },
    "map names a text field": {
        "operations": json.dumps({"query": UPLOAD_QUERY, "variables": {"f": None}}),
        "map": '{"operations": ["variables.f"]}',
    },
    "operations null": {"operations": "null", "map": '{"0": ["variables.f"]}'},
    "operations string": {"operations": '"abc"', "map": '{"0": ["variables.f"]}'},
    "operations not json": {"operations": "{", "map": '{"0": ["variables.f"]}'},
    "operations missing": {"map": '{"0": ["variables.f"]}'},
    "variables string": {
        "operations": json.dumps({"query": UPLOAD_QUERY, "variables": "x"}),
        "map": '{"0": ["variables.f"]}',
    },
}


@pytest.mark.parametrize("fields", MALFORMED_MULTIPART.values(), ids=MALFORMED_MULTIPART.keys())
async def test_malformed_graphql_multipart_is_a_400(
    api: Api, owner: str, fields: dict[str, str]
) -> None:
    response = await api.client.post(
        "/graphql",
        data=fields,
        files={"0": ("a.jpg", jpeg(42), "image/jpeg")},
        headers={**api.headers(owner), **PREFLIGHT},
    )
    bad_request(response)


async def test_multipart_without_boundary_is_a_400(api: Api, owner: str) -> None:
    for path in ("/graphql", "/api/v1/profile/me-images/upload"):
        response = await api.client.post(
            path,
            content=b"--x\r\n\r\n",
            headers={**api.headers(owner), **PREFLIGHT, "content-type": "multipart/form-data"},
        )
        assert response.status_code == 400, (path, response.text)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "a\ud800"},
        {"sub": "a\x00"},
        {"sub": "me", "space": "b\ud800"},
        {"sub": "me", "space": "b\x00"},
        {"sub": "a\nb"},
        {"sub": "x" * 201},
        {"sub": 5},
        {"sub": "me", "space": ["x"]},
        {"sub": "me", "exp": float("inf")},
        {"sub": "me", "iat": float("inf")},
    ],
    ids=repr,
)
async def test_unstorable_token_claims_are_a_401(api: Api, claims: dict[str, object]) -> None:
    secret = api.app.state.server.settings.jwt_secret
    token = jwt.encode({"exp": int(time.time()) + 3600, **claims}, secret, "HS256")
    response = await api.client.post(
        "/graphql", json=Q, headers={"Authorization": f"Bearer {token}"}
    )
    bad_request(response, 401, "UNAUTHENTICATED")
    # The media door refuses the same tokens with its usual 404.
    media = await api.client.get(
        "/media/00000000-0000-0000-0000-000000000000/thumbnail",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert media.status_code == 404


async def test_path_parameters_are_checked_before_any_route(api: Api, owner: str) -> None:
    image = await api.upload(jpeg(43), user=owner)
    media_id = image["mediaId"]
    unknown = await api.client.get("/media/00000000-0000-0000-0000-000000000000/thumbnail")
    assert unknown.status_code == 404
    for path in (
        f"/media/{media_id}%00/thumbnail",  # NUL reached asyncpg before
        f"/media/{media_id}/thumbnail%00",
        f"/media/{media_id}%ed%a0%80/thumbnail",  # a surrogate, as UTF-8 would carry it
        f"/media/{media_id}%ff/thumbnail",
        f"/media/{media_id}%0a/thumbnail",
        f"/media/{'a' * 65}/thumbnail",
        f"/media/{media_id}/{'w' * 41}",
        f"/media/{media_id}%2F..%2F/thumbnail",
        f"/media/{media_id}/Thumbnail",
        f"/media/{media_id}/thumbnail?exp=%C2%B2&sig=00",  # "²" is a digit to str.isdigit
        f"/media/{media_id}/thumbnail?exp=1&sig=%00",
        "/" + "x" * 2000,
        "/graphiql/assets/a%00b.js",
    ):
        for headers in ({}, api.headers(owner)):
            response = await api.client.get(path, headers=headers)
            assert response.status_code == 404, path
            assert response.content == unknown.content, path
    # The owner's own media is still served.
    ok = await api.client.get(f"/media/{media_id}/thumbnail", headers=api.headers(owner))
    assert ok.status_code == 200


async def test_root_serves_the_web_app(api: Api) -> None:
    response = await api.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_uploads_over_the_limit_get_a_413_in_each_doors_shape(
    tmp_path: Path, owner: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'l.db'}",
        max_upload_bytes=1000,
    )
    async with running_api(settings, "sqlite") as api:
        client = api.client
        big = b"\xff" * (400 * 1024)  # over the limit plus the multipart allowance
        operations = json.dumps({"query": UPLOAD_QUERY, "variables": {"f": None}})
        graphql = await client.post(
            "/graphql",
            data={"operations": operations, "map": '{"0": ["variables.f"]}'},
            files={"0": ("a.jpg", big, "image/jpeg")},
            headers={**api.headers(owner), **PREFLIGHT},
        )
        bad_request(graphql, 413, "TOO_LARGE")
        assert graphql.headers["content-type"].startswith("application/json")
        # Streamed without a Content-Length: refused while it arrives, same shape.

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(8):
                yield b"{" + b" " * (64 * 1024)

        streamed = await client.post(
            "/graphql",
            content=chunks(),
            headers={**api.headers(owner), "content-type": "application/json"},
        )
        bad_request(streamed, 413, "TOO_LARGE")
        # No token, announced too large: still the JSON shape, before anything is read.
        anonymous = await client.post(
            "/graphql", content=big, headers={"content-type": "application/json"}
        )
        bad_request(anonymous, 413, "TOO_LARGE")
        rest = await client.post(
            "/api/v1/profile/me-images/upload",
            files={"file": ("a.jpg", big, "image/jpeg")},
            headers=api.headers(owner),
        )
        assert rest.status_code == 413
        assert rest.json()["error"]["code"] == "TOO_LARGE"


async def test_client_mistakes_are_one_info_line_real_faults_keep_their_traceback(
    api: Api, owner: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = api.headers(owner)
    mistakes = [
        {
            "query": "query($k: MeImageKind) { meImages(kind: $k) { id } }",
            "variables": {"k": "NOPE"},
        },
        {"query": "{ meImages(kind: NOPE) { id } }"},
        {"query": "{ meImages { id "},
        {"query": "{ meImagez { id } }"},
        {"query": "query($n: Int!) { meImages { id } }"},
    ]
    with caplog.at_level(logging.INFO):
        for body in mistakes:
            response = await api.client.post("/graphql", json=body, headers=auth)
            assert response.json()["errors"], body
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]
    quiet = [r for r in caplog.records if r.getMessage().startswith("client error:")]
    assert len(quiet) == len(mistakes)
    assert all("\n" not in r.getMessage() for r in quiet)

    caplog.clear()
    from resolvers.pool import me_images

    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a real fault")

    monkeypatch.setattr(me_images, "listed_images", boom)
    with caplog.at_level(logging.INFO):
        response = await api.client.post("/graphql", json=Q, headers=auth)
    assert response.json()["errors"][0]["message"] == "Internal server error."
    faults = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert faults, "a real fault is logged with its traceback"


@pytest.mark.parametrize(
    ("accept", "streamed"),
    [
        # urql's default: JSON first, event streams and multipart as fallbacks.
        (
            "application/graphql-response+json, application/graphql+json, application/json,"
            " text/event-stream, multipart/mixed",
            False,
        ),
        ("application/json;q=0.9, text/event-stream;q=0.5", False),
        ("text/event-stream;q=0.4, application/json;q=0.8", False),
        ("text/event-stream", True),
        ("text/event-stream, application/json", True),
    ],
)
async def test_a_query_is_streamed_only_when_the_client_prefers_a_stream(
    api: Api, owner: str, accept: str, streamed: bool
) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": "{ profile { aiUsesReferenceImages } }"},
        headers={**api.headers(owner), "Accept": accept},
    )
    assert response.status_code == 200, response.text
    content_type = response.headers["content-type"]
    if streamed:
        assert content_type.startswith("text/event-stream"), content_type
        assert "aiUsesReferenceImages" in response.text
    else:
        assert "json" in content_type, content_type
        assert response.json()["data"]["profile"]["aiUsesReferenceImages"] is True
