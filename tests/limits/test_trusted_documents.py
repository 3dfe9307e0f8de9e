"""Trusted documents: the checked-in manifest is current, and `require` runs only its
operations, whatever their formatting, with GraphiQL's requests let through in
development only. (WebSocket and the web app's own client: test_surface_live.py.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from graphql import parse

from api.settings import Settings
from api.trusted_documents import (
    DEFAULT_SOURCES,
    TrustedDocuments,
    build_manifest,
    canonical_body,
    render_manifest,
    sha256_hex,
    source_files,
)
from tests.support.app import Api, running_api

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "api" / "trusted_documents.json"
NOT_TRUSTED = "QUERY_NOT_IN_PERSISTED_QUERY_LIST"


def test_the_checked_in_manifest_is_current() -> None:
    current = render_manifest(build_manifest(source_files(ROOT / s for s in DEFAULT_SOURCES)))
    assert MANIFEST.read_text() == current, (
        "run `meimages trusted-documents -o api/trusted_documents.json` and commit the result"
    )
    names = {entry["name"] for entry in json.loads(current)["operations"]}
    # Both sources are in it: clients/operations and the web app's operations.
    assert {"MeImages", "Profile", "Pool", "Generations", "MeImageEvents"} <= names


def test_the_cli_writes_the_same_manifest(tmp_path: Path) -> None:
    import subprocess

    out = tmp_path / "manifest.json"
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "meimages"), "trusted-documents", "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == MANIFEST.read_text()


def test_the_canonical_form_ignores_formatting_and_fragment_order() -> None:
    one = (
        "fragment B on Query { profile { credits } } fragment A on Query { ...B } query Q { ...A }"
    )
    two = "query Q {\n  ...A\n}\n# a comment\nfragment A on Query { ...B }\nfragment B on Query {profile{credits}}"
    assert canonical_body(parse(one), None) == canonical_body(parse(two), "Q")
    # Another operation of the same document is not the chosen one's text.
    both = parse(one + " query R { profile { credits } }")
    assert canonical_body(both, None) is None
    assert canonical_body(both, "R") == "query R {\n  profile {\n    credits\n  }\n}"


@pytest_asyncio.fixture(params=["require-production", "require-dev"])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    production = request.param == "require-production"
    settings = Settings(data_dir=tmp_path, trusted_documents="require", production=production)
    async with running_api(settings, "sqlite") as running:
        yield running


def _manifest_body(name: str) -> str:
    operations = json.loads(MANIFEST.read_text())["operations"]
    return next(str(entry["body"]) for entry in operations if entry["name"] == name)


async def _post(api: Api, body: dict[str, object], **headers: str) -> dict[str, object]:
    response = await api.client.post(
        "/graphql", json=body, headers={**api.headers("td-owner"), **headers}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_require_runs_manifest_operations_and_refuses_others(api: Api) -> None:
    # The manifest's Profile operation, formatted differently from the manifest's text.
    trusted = await _post(api, {"query": " ".join(_manifest_body("Profile").split()) + "\n"})
    assert "errors" not in trusted, trusted
    assert trusted["data"]["profile"]["ownerId"] == "td-owner"  # type: ignore[index]

    for other in (
        {"query": "{ profile { credits } }"},  # the same selection, but not a listed operation
        {"query": _manifest_body("Profile").replace("spaceId", "spaceId credits")},
        {"query": "query Mine { __typename }"},
    ):
        refused = await _post(api, other)
        assert "data" not in refused
        for error in refused["errors"]:  # type: ignore[union-attr]
            error["extensions"].pop("requestId")  # every answer's own
        assert refused["errors"] == [
            {
                "message": "this server runs only the operations of its own clients "
                "(trusted documents); this document is not one of them",
                "extensions": {"code": NOT_TRUSTED},
            }
        ]

    # GraphiQL's header opens it in development, never in production.
    from_graphiql = await _post(api, {"query": "{ profile { credits } }"}, **{"X-GraphiQL": "1"})
    if api.settings.production:
        assert from_graphiql["errors"][0]["extensions"]["code"] == NOT_TRUSTED  # type: ignore[index]
    else:
        assert "errors" not in from_graphiql, from_graphiql


def test_off_ignores_the_manifest_and_allow_knows_its_ids() -> None:
    off = TrustedDocuments.load("off", None, graphiql_exempt=False)
    allow = TrustedDocuments.load("allow", None, graphiql_exempt=False)
    body = _manifest_body("Profile")
    assert off.body(sha256_hex(body)) is None
    assert allow.body(sha256_hex(body)) == body
