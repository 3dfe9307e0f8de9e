"""Crypto-shredding: after `meimages purge --user ID`, no copy of that owner's pictures opens.

Not the live store, not the older versions a versioned S3 bucket keeps, not a copy of the
media folder taken before the purge; while the master key, and every other owner's
pictures (live and in the same copies), keep working.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from api.settings import Settings
from storage.crypto import BLOB_MAGIC, DecryptionError
from testbed.server import MEIMAGES, clean_environment
from tests.media.test_sealing import SERVED, looks_like_an_image, served_images
from tests.support.app import running_api
from tests.support.s3 import S3_PREFIX, S3Server


def copies_in_bucket(s3: S3Server, bucket: str, keys: set[str]) -> list[tuple[str, bytes]]:
    """Every version the bucket still holds of `keys`, deleted ones included."""
    client = s3.client()
    found = []
    for page in client.get_paginator("list_object_versions").paginate(
        Bucket=bucket, Prefix=f"{S3_PREFIX}/"
    ):
        for version in page.get("Versions", []):
            key = version["Key"].removeprefix(f"{S3_PREFIX}/")
            if key in keys:
                body = client.get_object(
                    Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"]
                )["Body"].read()
                found.append((key, body))
    return found


def copies_in_folder(folder: Path, keys: set[str]) -> list[tuple[str, bytes]]:
    return [(key, (folder / key).read_bytes()) for key in sorted(keys) if (folder / key).is_file()]


@pytest.mark.parametrize("blobs", ["local", "s3-versioned"])
async def test_after_purge_no_copy_of_the_owners_pictures_opens(
    blobs: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    data_dir = tmp_path / "data"
    s3: S3Server | None = None
    blob_settings: dict[str, str] = {}
    if blobs == "s3-versioned":
        s3 = request.getfixturevalue("s3")
        bucket = s3.new_bucket()
        s3.client().put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        blob_settings = s3.blob_settings(bucket)
    settings = Settings(data_dir=data_dir, **blob_settings)
    alice, bob = f"alice-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    async with running_api(settings, "sqlite", blobs) as api:
        alices = await served_images(api, alice, 2, seed=400)
        bobs = await served_images(api, bob, 1, seed=410)
        alice_keys: set[str] = set()
        for image in alices:
            alice_keys |= set(await api.rendition_keys(image["storagePath"], variants=True))
        bob_keys = {
            key: name
            for image in bobs
            for key, name in zip(
                await api.rendition_keys(image["storagePath"], variants=True), SERVED, strict=True
            )
        }
    assert len(alice_keys) == 8
    backup = tmp_path / "media-backup"
    if s3 is None:
        shutil.copytree(settings.resolved_blob_dir, backup)

    # The operator's commands, as they are run: the master key is rotated (and the old one
    # retired) first, so what keeps working below works under the new master key only.
    env = clean_environment({Settings.variable(k): v for k, v in blob_settings.items()})

    async def meimages(*args: str) -> str:
        done = await asyncio.to_thread(
            subprocess.run,
            [str(MEIMAGES), *args, "--data-dir", str(data_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    old_keys = (data_dir / "master-keys.json").read_text()
    assert "re-wrapped 2 data keys" in await meimages("rotate-master-key")
    assert "1 old master key(s) removed" in await meimages("rotate-master-key", "--retire")
    assert (data_dir / "master-keys.json").read_text() != old_keys
    assert "data keys destroyed" in await meimages("purge", "--user", alice, "--yes")

    async with running_api(settings, "sqlite", blobs) as api:
        # The live store holds nothing of hers any more.
        assert not alice_keys & await api.blob_keys()
        if s3 is None:
            hers = copies_in_folder(backup, alice_keys)
            his = copies_in_folder(backup, set(bob_keys))
        else:
            bucket = urlsplit(settings.blob_url).netloc
            hers = copies_in_bucket(s3, bucket, alice_keys)
            his = copies_in_bucket(s3, bucket, set(bob_keys))
        # Every one of her objects is still in the copy, and none of them opens: not as
        # hers (her keys are gone), not as anyone else's.
        assert {key for key, _ in hers} == alice_keys
        for key, data in hers:
            assert data.startswith(BLOB_MAGIC) and not looks_like_an_image(data)
            for who in (alice, bob):
                with pytest.raises(DecryptionError):
                    await api.stores.sealed.open(who, key, data)
        # The master key and his keys work as before: his copies open to what is served,
        # his URLs serve, and he can still upload.
        assert {key for key, _ in his} == set(bob_keys)
        image = bobs[0]
        for key, data in his:
            name = bob_keys[key]
            assert await api.stores.sealed.open(bob, key, data) == image[f"{name}:bytes"]
            response = await api.client.get(image[name])
            assert response.status_code == 200 and response.content == image[f"{name}:bytes"]
        more = await served_images(api, bob, 1, seed=411)
        assert more[0]["publicUrl:bytes"]
        # A URL of hers answers like any missing media.
        assert (await api.client.get(alices[0]["publicUrl"])).status_code == 404
