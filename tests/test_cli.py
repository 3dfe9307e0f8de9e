"""The `meimages` command line: tokens, schema export, master-key rotation with a server running."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import jwt

from tests.e2e.server import MEIMAGES, start_server
from tests.images import jpeg

LABEL_QUERY = "query($id: ID!) { meImage(id: $id) { label tags } }"


def run(*args: str, data_dir: Path) -> str:
    return subprocess.run(
        [str(MEIMAGES), *args, "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_token_reads_the_data_dir_secret(tmp_path: Path) -> None:
    token = run(
        "token", "--user", "cli-user", "--space", "club", "--ttl", "30m", data_dir=tmp_path
    ).strip()
    secret = json.loads((tmp_path / "secrets.json").read_text())["jwt_secret"]
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert claims["sub"] == "cli-user" and claims["space"] == "club"
    assert 1790 <= claims["exp"] - claims["iat"] <= 1800


def test_export_schema_prints_sdl() -> None:
    out = subprocess.run(
        [str(MEIMAGES), "export-schema"], check=True, capture_output=True, text=True
    ).stdout
    assert "type MeImage" in out and "setPrimary(" in out


def upload(base: str, token: str, label: str, seed: int) -> str:
    operations = {
        "query": "mutation($f: Upload!, $i: UploadMeImageInput) { uploadMeImage(file: $f, input: $i) { ... on MeImage { id } } }",
        "variables": {"f": None, "i": {"label": label, "tags": [label + "-tag"]}},
    }
    response = httpx.post(
        f"{base}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("a.jpg", jpeg(seed), "image/jpeg")},
        headers={"Authorization": f"Bearer {token}", "GraphQL-Require-Preflight": "1"},
    )
    return str(response.json()["data"]["uploadMeImage"]["id"])


def label_of(base: str, token: str, image_id: str) -> str:
    response = httpx.post(
        f"{base}/graphql",
        json={"query": LABEL_QUERY, "variables": {"id": image_id}},
        headers={"Authorization": f"Bearer {token}"},
    )
    return str(response.json()["data"]["meImage"]["label"])


def test_rotate_master_key_without_downtime(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        alice, bob = server.token("rot-alice"), server.token("rot-bob")
        first = upload(server.url, alice, "before", 1)
        old_keys = json.loads((tmp_path / "master-keys.json").read_text())["keys"]
        out = run("rotate-master-key", data_dir=tmp_path)
        assert "re-wrapped 1 data keys" in out
        rotated = json.loads((tmp_path / "master-keys.json").read_text())["keys"]
        assert len(rotated) == 2 and rotated[1:] == old_keys  # the old key stays for now
        out = run("rotate-master-key", "--retire", data_dir=tmp_path)
        assert "1 old master key(s) removed" in out
        new_keys = json.loads((tmp_path / "master-keys.json").read_text())["keys"]
        assert new_keys == rotated[:1]
        assert (tmp_path / "master-keys.json").stat().st_mode & 0o777 == 0o600
        # The running server keeps serving old data and writes new data under the new key.
        assert label_of(server.url, alice, first) == "before"
        second = upload(server.url, bob, "after", 2)
        assert label_of(server.url, bob, second) == "after"
    finally:
        server.stop()
    # A fresh process that only has the new key reads everything.
    server = start_server(tmp_path)
    try:
        assert label_of(server.url, server.token("rot-alice"), first) == "before"
        assert label_of(server.url, server.token("rot-bob"), second) == "after"
    finally:
        server.stop()
