"""Inpainting masks end to end: the real app on both databases, multipart GraphQL requests,
and the provider test server checking the `mask` part it receives."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import select

from resolvers.generation.references import UnusableMask, png_chunk_types, prepare_mask
from resolvers.lifecycle.purge import purge_owner
from resolvers.portability import archive_format as fmt
from resolvers.portability.export import write_archive
from resolvers.stores import Caller
from storage.tables import GenerationRecord
from testbed.images import jpeg
from tests.generation.conftest import (
    HISTORY,
    MASK_FIELDS,
    add_reference,
    balance,
    generate_with_mask,
    generation_count,
    grant,
)
from tests.support.app import Api
from tests.support.provider_server import ProviderServer

# A landscape photo larger than the prepared size: it is sent at 1024 x 768.
PHOTO = (1600, 1200)
PREPARED = (1024, 768)


def mask_png(
    size: tuple[int, int],
    *,
    transparent: str = "top",
    mode: str = "RGBA",
    text: str | None = None,
) -> bytes:
    """A mask drawn by a client: opaque white, with the top half (or nothing, or
    everything) transparent; optionally with a text chunk that must not be sent."""
    img = Image.new("RGBA", size, (255, 255, 255, 255))
    w, h = size
    if transparent == "top":
        img.paste((0, 0, 0, 0), (0, 0, w, h // 2))
    elif transparent == "all":
        img.paste((0, 0, 0, 0), (0, 0, w, h))
    if mode != "RGBA":
        img = img.convert(mode)
    info = PngImagePlugin.PngInfo()
    if text is not None:
        info.add_text("Comment", text)
    out = io.BytesIO()
    img.save(out, "PNG", pnginfo=info)
    return out.getvalue()


@contextmanager
def upload_limit(api: Api, max_bytes: int) -> Iterator[None]:
    stores = api.stores
    before = stores.config.limits
    stores.config.limits = replace(before, max_upload_bytes=max_bytes)
    try:
        yield
    finally:
        stores.config.limits = before


async def test_a_masked_generation_sends_the_prepared_mask_and_keeps_it(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    face = await add_reference(gen_api, owner, 1, data=jpeg(1, size=PHOTO))
    body = await add_reference(gen_api, owner, 2)
    await grant(gen_api, owner, 100)
    # Drawn at a quarter of the photo's size, with a comment that must not travel.
    mask = mask_png((400, 300), text="MASK-METADATA-CANARY")

    result = await generate_with_mask(gen_api, owner, [face["id"], body["id"]], mask)

    assert result["__typename"] == "Generation", result
    assert result["status"] == "SUCCEEDED" and result["cost"] == 10
    [sent] = provider.requests
    assert sent.problems == []
    assert sent.mask is not None
    assert sent.body.count(b'name="mask"') == 1
    assert sent.body.count(b'name="image[]"') == 2
    assert b"MASK-METADATA-CANARY" not in sent.body
    assert png_chunk_types(sent.mask) == ["IHDR", "IDAT", "IEND"]
    sent_mask = Image.open(io.BytesIO(sent.mask))
    first = Image.open(io.BytesIO(sent.images[0]))
    assert sent_mask.mode == "RGBA" and sent_mask.size == first.size == PREPARED
    alpha = sent_mask.getchannel("A")
    # The top half may change (transparent), the bottom half stays (opaque).
    assert alpha.crop((0, 0, 1024, 380)).getextrema() == (0, 0)
    assert alpha.crop((0, 388, 1024, 768)).getextrema() == (255, 255)

    # Shown as it was sent, on the answer and in the history.
    assert result["mask"] == {
        "contentType": "image/png",
        "width": 1024,
        "height": 768,
        "base64": base64.b64encode(sent.mask).decode(),
    }
    history = await gen_api.gql(
        HISTORY.replace("node { id prompt status }", "node { id " + MASK_FIELDS + " }"),
        {"first": 5, "after": None},
        user=owner,
    )
    [edge] = history["generations"]["edges"]
    assert edge["node"]["id"] == result["id"]
    assert edge["node"]["mask"] == result["mask"]

    # Stored encrypted: the column holds neither the PNG nor its base64.
    async with gen_api.stores.db.session() as session:
        row = (
            await session.execute(
                select(GenerationRecord).where(GenerationRecord.id == result["id"])  # type: ignore[arg-type]
            )
        ).scalar_one()
    assert row.mask_ct is not None
    assert sent.mask not in row.mask_ct
    assert base64.b64encode(sent.mask)[:64] not in row.mask_ct


async def test_a_generation_without_mask_sends_no_mask_part(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    face = await add_reference(gen_api, owner, 3)
    await grant(gen_api, owner, 100)
    data = await gen_api.gql(
        "mutation($input: GenerationInput!) { generateWithReference(input: $input) {"
        " __typename ... on Generation { " + MASK_FIELDS + " } } }",
        {"input": {"prompt": "me", "referenceImageIds": [face["id"]]}},
        user=owner,
    )
    assert data["generateWithReference"] == {"__typename": "Generation", "mask": None}
    [sent] = provider.requests
    assert sent.mask is None and sent.problems == []
    assert b'name="mask"' not in sent.body


async def test_an_everything_mask_is_sent(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    face = await add_reference(gen_api, owner, 4, data=jpeg(4, size=(600, 800)))
    await grant(gen_api, owner, 100)
    result = await generate_with_mask(
        gen_api, owner, [face["id"]], mask_png((600, 800), transparent="all")
    )
    assert result["__typename"] == "Generation", result
    [sent] = provider.requests
    assert sent.problems == [] and sent.mask is not None
    mask = Image.open(io.BytesIO(sent.mask))
    assert mask.size == (600, 800) and mask.getchannel("A").getextrema() == (0, 0)


REFUSALS = {
    "not an image": (b"these are notes, not a mask\n" * 20, "InvalidInputError", "image"),
    "no alpha": (mask_png((400, 300), mode="RGB"), "InvalidInputError", "alpha"),
    "a JPEG": (jpeg(9, size=(400, 300)), "InvalidInputError", "alpha"),
    "nothing transparent": (
        mask_png((400, 300), transparent="none"),
        "InvalidInputError",
        "no transparent",
    ),
    "another aspect ratio": (mask_png((300, 300)), "InvalidInputError", "aspect"),
    "empty": (b"", "InvalidInputError", "empty"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_each_mask_rule_refuses_before_anything_is_held_or_sent(
    gen_api: Api, owner: str, provider: ProviderServer, case: str
) -> None:
    face = await add_reference(gen_api, owner, 5, data=jpeg(5, size=PHOTO))
    await grant(gen_api, owner, 100)
    before = await balance(gen_api, owner)
    data, typename, words = REFUSALS[case]

    result = await generate_with_mask(gen_api, owner, [face["id"]], data)

    assert result["__typename"] == typename, result
    assert result["code"] == "INVALID_INPUT" and result["field"] == "mask"
    assert words in result["message"]
    assert provider.requests == []
    assert await balance(gen_api, owner) == before
    assert await generation_count(gen_api, owner) == 0


async def test_a_mask_over_the_upload_limit_is_too_large(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    face = await add_reference(gen_api, owner, 6, data=jpeg(6, size=PHOTO))
    await grant(gen_api, owner, 100)
    mask = mask_png((400, 300))
    with upload_limit(gen_api, len(mask) - 1):
        result = await generate_with_mask(gen_api, owner, [face["id"]], mask)
    assert result["__typename"] == "TooLargeError", result
    assert result["code"] == "TOO_LARGE" and result["maxBytes"] == len(mask) - 1
    assert provider.requests == []
    assert await generation_count(gen_api, owner) == 0


async def test_a_provider_without_masks_refuses_by_name(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    face = await add_reference(gen_api, owner, 7, data=jpeg(7, size=PHOTO))
    await grant(gen_api, owner, 100)
    before = await balance(gen_api, owner)
    result = await generate_with_mask(
        gen_api, owner, [face["id"]], mask_png((400, 300)), model="google/gemini-2.5-flash-image"
    )
    assert result["__typename"] == "MaskNotSupportedError", result
    assert result["code"] == "MASK_NOT_SUPPORTED"
    assert (result["provider"], result["model"]) == ("gemini", "google/gemini-2.5-flash-image")
    assert "gemini" in result["message"]
    assert provider.requests == []
    assert await balance(gen_api, owner) == before
    assert await generation_count(gen_api, owner) == 0


async def test_a_retry_with_another_mask_is_another_input(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    face = await add_reference(gen_api, owner, 8, data=jpeg(8, size=PHOTO))
    await grant(gen_api, owner, 100)
    first = await generate_with_mask(
        gen_api, owner, [face["id"]], mask_png((400, 300)), idempotency_key="mask-key-1"
    )
    assert first["__typename"] == "Generation", first
    again = await generate_with_mask(
        gen_api, owner, [face["id"]], mask_png((400, 300)), idempotency_key="mask-key-1"
    )
    assert again["__typename"] == "Generation" and again["id"] == first["id"]
    other = await generate_with_mask(
        gen_api,
        owner,
        [face["id"]],
        mask_png((400, 300), transparent="all"),
        idempotency_key="mask-key-1",
    )
    assert other["__typename"] == "InvalidInputError", other
    assert other["field"] == "idempotencyKey"
    assert len(provider.requests) == 1


async def test_the_mask_is_exported_and_purged_with_the_generation(
    gen_api: Api, owner: str, provider: ProviderServer, tmp_path: Path
) -> None:
    face = await add_reference(gen_api, owner, 10, data=jpeg(10, size=PHOTO))
    await grant(gen_api, owner, 100)
    result = await generate_with_mask(gen_api, owner, [face["id"]], mask_png((400, 300)))
    assert result["__typename"] == "Generation", result
    [sent] = provider.requests

    archive_path = tmp_path / "export.zip"
    await write_archive(gen_api.stores, Caller(owner), archive_path)
    with zipfile.ZipFile(archive_path) as archive:
        generations = json.loads(archive.read(fmt.GENERATIONS))["generations"]
        readme = archive.read(fmt.README).decode()
    [exported] = generations
    assert exported["id"] == result["id"]
    assert base64.b64decode(exported["mask"]) == sent.mask
    assert "inpainting mask" in readme

    await purge_owner(gen_api.stores, owner)
    assert await generation_count(gen_api, owner) == 0


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_any_image_with_alpha_becomes_a_two_level_rgba_mask(mode: str) -> None:
    img = Image.new("RGBA", (200, 150), (255, 255, 255, 255))
    img.paste((0, 0, 0, 0), (0, 0, 200, 75))
    if mode == "P":
        img = img.convert("P", palette=Image.Palette.ADAPTIVE)
        img.info["transparency"] = img.getpixel((0, 0))
    elif mode != "RGBA":
        img = img.convert(mode)
    out = io.BytesIO()
    img.save(out, "PNG", **({"transparency": img.info["transparency"]} if mode == "P" else {}))

    prepared = prepare_mask(out.getvalue(), (400, 300), max_pixels=10_000_000)

    mask = Image.open(io.BytesIO(prepared))
    assert mask.mode == "RGBA" and mask.size == (400, 300)
    assert png_chunk_types(prepared) == ["IHDR", "IDAT", "IEND"]
    histogram = mask.getchannel("A").histogram()
    assert {level for level, count in enumerate(histogram) if count} == {0, 255}
    assert mask.getchannel("A").crop((0, 0, 400, 148)).getextrema() == (0, 0)


def test_a_decompression_bomb_is_no_mask() -> None:
    with pytest.raises(UnusableMask):
        prepare_mask(mask_png((4000, 3000)), (400, 300), max_pixels=1_000_000)
