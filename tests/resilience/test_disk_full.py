"""The local blob store's disk fills up: uploads fail with a typed error and leave no
partial file and no row without its blob; the server keeps serving reads."""

from __future__ import annotations

import io
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from testbed.graphql import bearer, upload_form
from testbed.server import start_server
from tests.crash.backends import LOCAL_TMP_PREFIX, SqliteLocal, violations
from tests.resilience.load import IMAGE, graphql_outcome, media_outcome

DISK_BYTES = 3 * 1024 * 1024
MAX_UPLOADS = 40  # the disk is full long before this


def noisy_jpeg(seed: int) -> bytes:
    """A photo-sized JPEG that barely compresses (random pixels): ~1 MB."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (900, 700), rng.randbytes(900 * 700 * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def leftovers(folder: Path) -> list[str]:
    """Half-written files of the local store."""
    return [p.name for p in folder.rglob(f"{LOCAL_TMP_PREFIX}*")]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A size-capped tmpfs where the server keeps its media (needs root to mount)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a size-capped tmpfs needs root (CI runs as root)")
    media = tmp_path / "media"
    media.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(media)],
        check=True,
        capture_output=True,
    )
    try:
        yield media
    finally:
        subprocess.run(["umount", "-l", str(media)], check=False, capture_output=True)


async def test_full_disk_refuses_uploads_cleanly_and_keeps_serving(
    small_disk: Path, tmp_path: Path
) -> None:
    server = start_server(tmp_path)
    owner = "owner-disk"
    stored: list[dict[str, str]] = []
    refusal = None
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            headers = bearer(server.token(owner), preflight=True)
            for n in range(MAX_UPLOADS):
                form = upload_form(noisy_jpeg(n), fields=IMAGE)
                response = await http.post(server.graphql_url, headers=headers, **form)
                outcome = graphql_outcome(response)
                if outcome == "ok":
                    stored.append(response.json()["data"]["uploadMeImage"])
                    continue
                refusal = response
                break
            assert stored, "not even one upload fit"
            assert refusal is not None, "the disk never filled"
            assert graphql_outcome(refusal) == "unavailable:STORAGE_FULL", refusal.text
            # The REST door says the same with 507 and Retry-After.
            rest = await http.post(
                server.url + "/api/v1/profile/me-images/upload",
                headers=headers,
                files={"file": ("p.jpg", noisy_jpeg(999), "image/jpeg")},
            )
            assert rest.status_code == 507 and rest.headers["retry-after"], rest.text
            assert rest.json()["error"]["code"] == "STORAGE_FULL"

            # Reads keep working: the pool, and every stored image's bytes.
            listed = await http.post(
                server.graphql_url,
                json={"query": "{ meImages { id } }"},
                headers=server.headers(owner),
            )
            assert graphql_outcome(listed) == "ok"
            assert {i["id"] for i in listed.json()["data"]["meImages"]} == {i["id"] for i in stored}
            for image in stored:
                assert media_outcome(await http.get(image["publicUrl"])) == "ok"
        assert server.alive(), server.log_tail()
    finally:
        server.stop()
    assert leftovers(small_disk) == []
    backend = SqliteLocal(tmp_path)
    assert violations(await backend.db_state(), backend.blobs()) == []
