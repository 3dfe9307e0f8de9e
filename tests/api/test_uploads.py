"""Uploads: real JPEG/PNG/WebP accepted; everything else refused with a typed error, nothing kept."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from storage.tables import MediaObject, MeImage
from testbed.images import decompression_bomb, jpeg, jpeg_with_exif
from testbed.phone_photos import animated_gif
from tests.support.app import Api


async def counts(api: Api, owner: str) -> tuple[int, int]:
    async with api.app.state.server.stores.db.session() as session:
        images = (
            await session.execute(
                select(func.count()).select_from(MeImage).where(MeImage.owner_id == owner)
            )  # type: ignore[arg-type]
        ).scalar_one()
        media = (
            await session.execute(
                select(func.count()).select_from(MediaObject).where(MediaObject.owner_id == owner)  # type: ignore[arg-type]
            )
        ).scalar_one()
    return images, media


def blob_files(api: Api) -> set[str]:
    root = api.app.state.server.settings.resolved_blob_dir
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


async def test_non_image_sent_as_jpeg_is_refused(api: Api, owner: str) -> None:
    before = blob_files(api)
    for payload in (
        b"%PDF-1.4 not an image",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"<html>hi</html>",
    ):
        result = await api.upload(payload, user=owner, filename="x.jpg", content_type="image/jpeg")
        assert result["__typename"] == "UnsupportedMediaTypeError", result
        assert result["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert await counts(api, owner) == (0, 0)
    assert blob_files(api) == before


async def test_animated_gif_and_truncated_jpeg_are_refused(api: Api, owner: str) -> None:
    result = await api.upload(animated_gif(), user=owner, filename="x.gif")
    assert result["code"] == "UNSUPPORTED_MEDIA_TYPE"
    truncated = jpeg(1, size=(400, 400))[:300]
    result = await api.upload(truncated, user=owner)
    assert result["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert await counts(api, owner) == (0, 0)


async def test_decompression_bomb_is_refused(api: Api, owner: str) -> None:
    before = blob_files(api)
    result = await api.upload(
        decompression_bomb(), user=owner, filename="bomb.png", content_type="image/png"
    )
    assert result["__typename"] == "TooLargeError", result
    assert result["code"] == "TOO_LARGE"
    assert await counts(api, owner) == (0, 0)
    assert blob_files(api) == before


async def test_oversized_body_gets_413_and_nothing_is_kept(api: Api, owner: str) -> None:
    before = blob_files(api)
    limit = api.app.state.server.settings.max_upload_bytes
    big = b"\xff\xd8\xff" + b"\0" * (limit + 300 * 1024)
    operations = {
        "query": "mutation($f: Upload!) { uploadMeImage(file: $f) { __typename } }",
        "variables": {"f": None},
    }
    response = await api.client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("big.jpg", big, "image/jpeg")},
        headers={**api.headers(owner), "GraphQL-Require-Preflight": "1"},
    )
    assert response.status_code == 413
    # The refusal names the file limit a person can act on, beside the code.
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "TOO_LARGE"
    assert error["extensions"]["maxBytes"] == limit
    response = await api.client.post(
        "/api/v1/profile/me-images/upload",
        files={"file": ("big.jpg", big, "image/jpeg")},
        headers=api.headers(owner),
    )
    assert response.status_code == 413
    assert response.json()["error"]["maxBytes"] == limit
    assert await counts(api, owner) == (0, 0)
    assert blob_files(api) == before


async def test_file_just_over_limit_inside_body_limit_is_typed_too_large(
    api: Api, owner: str
) -> None:
    limit = api.app.state.server.settings.max_upload_bytes
    data = (
        b"\xff\xd8\xff" + b"\0" * limit
    )  # limit + 3 bytes: over the file limit, under the body limit
    result = await api.upload(data, user=owner)
    assert result["__typename"] == "TooLargeError"
    assert result["code"] == "TOO_LARGE"
    assert await counts(api, owner) == (0, 0)


async def test_rest_upload_errors_are_typed(api: Api, owner: str) -> None:
    response = await api.client.post(
        "/api/v1/profile/me-images/upload",
        files={"file": ("evil.jpg", b"GIF89a not really", "image/jpeg")},
        headers=api.headers(owner),
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    response = await api.client.post(
        "/api/v1/profile/me-images/upload",
        files={"other": ("a.jpg", jpeg(2), "image/jpeg")},
        headers=api.headers(owner),
    )
    assert response.status_code == 400
    response = await api.client.post(
        "/api/v1/profile/me-images/upload", files={"file": ("a.jpg", jpeg(2), "image/jpeg")}
    )
    assert response.status_code == 401
    assert await counts(api, owner) == (0, 0)


async def test_exif_is_stripped_and_orientation_applied(api: Api, owner: str) -> None:
    canary = "CANARY-exif-7f3a9"
    result = await api.upload(jpeg_with_exif(canary), user=owner)
    assert result["__typename"] == "MeImage"
    # Orientation 6 means the 200x100 pixels are displayed rotated: 100x200.
    assert (result["width"], result["height"]) == (100, 200)
    response = await api.client.get(result["publicUrl"])
    assert response.status_code == 200
    assert canary.encode() not in response.content
    assert b"Exif" not in response.content
