"""`meimages export` and `meimages import`: the same archive and rules as GraphQL, from the
command line of each server's own installation."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

from api.settings import Settings
from testbed.images import jpeg, png
from tests.portability.archives import document, pool_of, served
from tests.support.app import Api

CLI_TIMEOUT_S = 120


async def meimages(api: Api, *args: str) -> tuple[int, str, str]:
    """Run the command line against `api`'s installation (its data folder, database, store)."""
    settings = api.settings
    env = {**os.environ, "MEIMAGES_DATABASE_URL": settings.database_url}
    for name in ("blob_url", "s3_access_key_id", "s3_secret_access_key"):
        if value := getattr(settings, name):
            env[Settings.variable(name)] = value
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        "--data-dir",
        str(settings.data_dir),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=CLI_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_export_and_import_from_the_command_line(
    source: Api, target: Api, tmp_path: Path
) -> None:
    owner, newcomer = f"cli-{uuid.uuid4().hex[:8]}", f"cli-new-{uuid.uuid4().hex[:8]}"
    face = await source.upload_image(
        jpeg(21), user=owner, input={"kind": "FACE", "label": "cli", "primaryFor": "FACE_REF"}
    )
    await source.gql(
        "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }",
        {"id": face["id"]},
        user=owner,
    )
    await source.upload_image(png(22), user=owner, space="brand", input={"kind": "HANDS"})
    archive = tmp_path / "me.zip"

    code, out, err = await meimages(source, "export", "--user", owner, "-o", str(archive))
    assert code == 0, err
    assert "exported 1 images" in out
    assert [i["label"] for i in document(archive.read_bytes(), "pool.json")["images"]] == ["cli"]

    code, out, err = await meimages(
        target, "import", "--user", newcomer, "--keep-consent", str(archive)
    )
    assert code == 0, err
    assert "imported 1 images" in out and "kept" in out
    restored = (await pool_of(target, newcomer))["meImages"]
    assert [
        (i["kind"], i["label"], i["primaryFor"], i["usage"]["aiReference"]) for i in restored
    ] == [("FACE", "cli", "FACE_REF", True)]
    original = (await pool_of(source, owner))["meImages"][0]
    assert await served(target, restored[0]["publicUrl"]) == await served(
        source, original["publicUrl"]
    )

    # Another space is exported on its own.
    brand = tmp_path / "brand.zip"
    code, _out, err = await meimages(
        source, "export", "--user", owner, "--space", "brand", "-o", str(brand)
    )
    assert code == 0, err
    assert [i["kind"] for i in document(brand.read_bytes(), "pool.json")["images"]] == ["hands"]


async def test_a_bad_archive_on_the_command_line_says_why_and_changes_nothing(
    target: Api, tmp_path: Path
) -> None:
    owner = f"cli-bad-{uuid.uuid4().hex[:8]}"
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"not a zip")
    code, out, err = await meimages(target, "import", "--user", owner, str(bogus))
    assert code == 2 and out == ""
    assert "nothing imported" in err and "not-a-zip" in err and "Traceback" not in err
    assert (await pool_of(target, owner))["meImages"] == []
    code, _out, err = await meimages(
        target, "import", "--user", owner, str(tmp_path / "missing.zip")
    )
    assert code == 2 and "no archive" in err
