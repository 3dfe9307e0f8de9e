"""Automatic persisted queries (Apollo's protocol) in front of the query cache."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from api.settings import Settings
from api.trusted_documents import sha256_hex
from tests.support.app import Api, running_api

QUERY = "query Owner { profile { ownerId aiUsesReferenceImages } }"
PREFLIGHT = {"GraphQL-Require-Preflight": "1"}


def persisted(query: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}


@pytest_asyncio.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(Settings(data_dir=tmp_path), "sqlite") as running:
        yield running


async def _get(api: Api, params: dict[str, str], **headers: str) -> tuple[int, dict[str, str], str]:
    response = await api.client.get(
        "/graphql", params=params, headers={**api.headers("apq"), **PREFLIGHT, **headers}
    )
    return response.status_code, dict(response.headers), response.text


async def test_unknown_hash_then_registration_then_get_by_hash_with_etag(api: Api) -> None:
    extensions = json.dumps(persisted(QUERY))
    status, _, text = await _get(api, {"extensions": extensions})
    assert status == 200
    body = json.loads(text)
    # Every refusal names its request (to find it in the server's log).
    assert body["errors"][0]["extensions"].pop("requestId")
    assert body == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    # The client registers the text with its hash (POST), and it runs.
    registered = await api.client.post(
        "/graphql",
        json={"query": QUERY, "extensions": persisted(QUERY)},
        headers=api.headers("apq"),
    )
    assert registered.json() == {
        "data": {"profile": {"ownerId": "apq", "aiUsesReferenceImages": True}}
    }
    # Now the hash alone answers over GET, through the query cache: ETag, then 304.
    status, headers, text = await _get(api, {"extensions": extensions})
    assert status == 200, text
    assert json.loads(text)["data"]["profile"]["ownerId"] == "apq"
    etag = headers["etag"]
    status, _, text = await _get(api, {"extensions": extensions}, **{"If-None-Match": etag})
    assert status == 304 and text == ""
    # With variables and operationName in the URL, as Apollo's link sends them.
    status, _, text = await _get(
        api,
        {"extensions": extensions, "operationName": "Owner", "variables": "{}"},
    )
    assert status == 200 and json.loads(text)["data"]["profile"]["ownerId"] == "apq"


async def test_a_hash_that_is_not_the_querys_is_refused(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": QUERY, "extensions": persisted(QUERY + " ")},
        headers=api.headers("apq"),
    )
    assert response.status_code == 400
    extensions = response.json()["errors"][0]["extensions"]
    assert extensions["code"] == "PERSISTED_QUERY_HASH_MISMATCH" and extensions["requestId"]
    # Nothing was registered under that hash.
    _, _, text = await _get(api, {"extensions": json.dumps(persisted(QUERY + " "))})
    assert json.loads(text)["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_malformed_persisted_query_extensions_are_bad_requests(api: Api) -> None:
    for extension in (
        {"version": 2, "sha256Hash": sha256_hex(QUERY)},
        {"version": 1, "sha256Hash": "not-a-hash"},
        {"version": 1, "sha256Hash": sha256_hex(QUERY).upper()},
        "a string",
    ):
        response = await api.client.post(
            "/graphql",
            json={"extensions": {"persistedQuery": extension}},
            headers=api.headers("apq"),
        )
        assert response.status_code == 400, extension
        extensions = response.json()["errors"][0]["extensions"]
        assert extensions["code"] == "PERSISTED_QUERY_INVALID" and extensions["requestId"]


async def test_trusted_document_ids_run_without_registration(tmp_path: Path) -> None:
    manifest = json.loads((Path(__file__).parents[2] / "api/trusted_documents.json").read_text())
    profile = next(e for e in manifest["operations"] if e["name"] == "Profile")
    for mode in ("allow", "require"):
        settings = Settings(data_dir=tmp_path / mode, trusted_documents=mode)
        async with running_api(settings, "sqlite") as api:
            response = await api.client.post(
                "/graphql",
                json={
                    "extensions": {"persistedQuery": {"version": 1, "sha256Hash": profile["id"]}}
                },
                headers=api.headers("td"),
            )
            assert response.status_code == 200, response.text
            assert response.json()["data"]["profile"]["ownerId"] == "td"
            if mode == "require":
                # Registering a document that is not trusted runs nothing and keeps nothing.
                refused = await api.client.post(
                    "/graphql",
                    json={"query": QUERY, "extensions": persisted(QUERY)},
                    headers=api.headers("td"),
                )
                code = refused.json()["errors"][0]["extensions"]["code"]
                assert code == "QUERY_NOT_IN_PERSISTED_QUERY_LIST"
                assert await api.app.state.server.persisted_documents.get(sha256_hex(QUERY)) is None
