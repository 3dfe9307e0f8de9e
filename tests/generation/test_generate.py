"""generateWithReference end to end: the real app on both databases, a real provider server."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest
from PIL import Image

from resolvers.config.generation import endpoint
from resolvers.generation.references import png_chunk_types
from testbed.images import decode, jpeg
from tests.generation.conftest import (
    GENERATION_FIELDS,
    OPENAI_KEY,
    add_reference,
    balance,
    blobs_patched,
    generate,
    generation_config,
    grant,
    ledger,
)
from tests.support.app import Api
from tests.support.provider_server import Mode, ProviderServer


async def test_generates_with_openai_and_keeps_pictures(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    face = await add_reference(gen_api, owner, 1)
    body = await add_reference(gen_api, owner, 2)
    await grant(gen_api, owner, 100)
    result = await generate(
        gen_api,
        owner,
        [face["id"], body["id"]],
        prompt="  me on the moon  ",
        quality="HIGH",
        size="LANDSCAPE",
        n=2,
    )
    assert result["__typename"] == "Generation", result
    assert result["status"] == "SUCCEEDED"
    assert (result["modelRequested"], result["modelUsed"]) == (
        "openai/gpt-image-2",
        "openai/gpt-image-2",
    )
    assert result["prompt"] == "me on the moon"
    assert (result["quality"], result["size"], result["n"]) == ("HIGH", "LANDSCAPE", 2)
    assert result["cost"] == 50  # 2 images x 25 (high), whatever the number of references
    assert result["referenceIds"] == [face["id"], body["id"]]
    assert [r["id"] for r in result["references"]] == [face["id"], body["id"]]
    assert result["warning"] is None and result["failure"] is None
    assert len(result["images"]) == 2
    for index, image in enumerate(result["images"]):
        assert image["index"] == index and image["base64"] is None
        assert (image["width"], image["height"]) == (1536, 1024)
        served = await gen_api.client.get(image["url"])
        assert served.status_code == 200
        assert decode(served.content).size == (1536, 1024)
        thumb = await gen_api.client.get(image["thumbnailUrl"])
        assert thumb.status_code == 200 and max(decode(thumb.content).size) <= 256
    assert await balance(gen_api, owner) == 50

    # Exactly one request, with exactly the fields and parts the edits endpoint expects.
    [sent] = provider.requests
    assert sent.problems == []
    assert {k: v[0] for k, v in sent.fields.items()} == {
        "model": "gpt-image-2",
        "prompt": "me on the moon",
        "size": "1536x1024",
        "quality": "high",
        "n": "2",
    }
    assert len(sent.images) == 2
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert b'name="image[]"' in sent.body and b'name="image"' not in sent.body

    # Outputs are pictures, not pool images; the call is in the history.
    pool = await gen_api.gql("{ meImages { id } }", user=owner)
    assert {i["id"] for i in pool["meImages"]} == {face["id"], body["id"]}
    again = await gen_api.gql(
        "query($id: ID!) { generation(id: $id) {" + GENERATION_FIELDS + "} }",
        {"id": result["id"]},
        user=owner,
    )
    stored = again["generation"]
    assert stored["status"] == "SUCCEEDED" and stored["cost"] == 50
    assert [i["mediaId"] for i in stored["images"]] == [i["mediaId"] for i in result["images"]]
    assert stored["prompt"] == "me on the moon" and stored["completedAt"] is not None


async def test_defaults_and_one_reference_uses_the_array_form(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 3)
    await grant(gen_api, owner, 10)
    result = await generate(gen_api, owner, [ref["id"]])
    assert result["__typename"] == "Generation", result
    assert (result["modelUsed"], result["quality"], result["size"], result["n"]) == (
        "openai/gpt-image-2",
        "MEDIUM",
        "SQUARE",
        1,
    )
    assert result["cost"] == 10
    assert await balance(gen_api, owner) == 0
    [sent] = provider.requests
    assert sent.problems == []
    assert sent.body.count(b'name="image[]"') == 1
    assert {k: v[0] for k, v in sent.fields.items()}["size"] == "1024x1024"
    assert {k: v[0] for k, v in sent.fields.items()}["quality"] == "medium"


async def test_references_are_shrunk_keeping_aspect_and_never_enlarged(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    big = await add_reference(gen_api, owner, 4, data=jpeg(4, size=(2000, 1000)))
    small = await add_reference(gen_api, owner, 5, data=jpeg(5, size=(320, 240)))
    await grant(gen_api, owner, 10)
    result = await generate(gen_api, owner, [big["id"], small["id"]], quality="MEDIUM")
    assert result["__typename"] == "Generation", result
    [sent] = provider.requests
    assert [decode(i).size for i in sent.images] == [(1024, 512), (320, 240)]
    assert all(decode(i).mode == "RGB" for i in sent.images)


async def test_exif_canaries_never_reach_the_provider(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    from testbed.images import jpeg_with_exif

    canary = "CANARY-exif-5e1f-do-not-send"
    uploaded = await add_reference(gen_api, owner, 6, data=jpeg_with_exif(canary))
    # Defence in depth: even a stored original that still carries metadata is cleaned.
    dirty = await add_reference(gen_api, owner, 7)
    gps_canary = "CANARY-gps-77aa"
    stored = Image.new("RGBA", (600, 300), (200, 10, 10, 128))
    exif = Image.Exif()
    exif[0x010E] = gps_canary
    exif[0x0112] = 8  # rotate 90° counter-clockwise when displayed
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", gps_canary)
    info.add_itxt("XML:com.adobe.xmp", f"<x:xmpmeta>{gps_canary}</x:xmpmeta>")
    out = io.BytesIO()
    stored.save(out, "PNG", pnginfo=info, exif=exif.tobytes(), dpi=(300, 300))
    sealed = await gen_api.stores.sealed.owner(owner)
    await sealed.put(dirty["storagePath"], out.getvalue())

    await grant(gen_api, owner, 10)
    result = await generate(gen_api, owner, [uploaded["id"], dirty["id"]])
    assert result["__typename"] == "Generation", result
    [sent] = provider.requests
    assert sent.problems == []
    assert canary.encode() not in sent.body and gps_canary.encode() not in sent.body
    for png in sent.images:
        assert set(png_chunk_types(png)) <= {"IHDR", "IDAT", "IEND"}
    # Orientation was applied before the metadata went: 200x100 turned upright, 600x300 too.
    assert [decode(i).size for i in sent.images] == [(100, 200), (300, 600)]
    # Transparency is flattened onto white, not black.
    pixel = decode(sent.images[1]).convert("RGB").getpixel((150, 300))
    assert isinstance(pixel, tuple) and pixel[1] > 100


async def test_fallback_to_gpt_image_1_is_charged_once(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 8)
    await grant(gen_api, owner, 30)
    provider.mode = Mode.UNVERIFIED
    result = await generate(gen_api, owner, [ref["id"]], quality="LOW", n=3)
    assert result["__typename"] == "Generation", result
    assert result["modelRequested"] == "openai/gpt-image-2"
    assert result["modelUsed"] == "openai/gpt-image-1"
    assert result["cost"] == 9
    assert [r.model for r in provider.requests] == ["gpt-image-2", "gpt-image-1"]
    assert all(r.problems == [] for r in provider.requests)
    assert await balance(gen_api, owner) == 21
    charges = [e for e in await ledger(gen_api, owner) if e["reason"] == "generation"]
    assert [(e["delta"], e["generation_id"]) for e in charges] == [(-9, result["id"])]


async def test_unverified_for_both_models_fails_without_charge(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 9)
    await grant(gen_api, owner, 10)
    provider.mode = Mode.UNVERIFIED_ALL
    result = await generate(gen_api, owner, [ref["id"]])
    assert result["__typename"] == "ProviderFailedError", result
    assert result["code"] == "PROVIDER_FAILED" and result["provider"] == "openai"
    assert "not verified" in result["detail"]
    assert [r.model for r in provider.requests] == ["gpt-image-2", "gpt-image-1"]
    assert await balance(gen_api, owner) == 10
    failed = await gen_api.gql(
        "query($id: ID!) { generation(id: $id) { status failure cost modelUsed images { url } } }",
        {"id": result["generationId"]},
        user=owner,
    )
    assert failed["generation"] == {
        "status": "FAILED",
        "failure": result["detail"],
        "cost": 0,
        "modelUsed": None,
        "images": [],
    }


async def test_a_model_without_fallback_is_not_retried(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 10)
    await grant(gen_api, owner, 10)
    provider.mode = Mode.UNVERIFIED_ALL
    result = await generate(gen_api, owner, [ref["id"]], model="openai/gpt-image-1")
    assert result["__typename"] == "ProviderFailedError", result
    assert [r.model for r in provider.requests] == ["gpt-image-1"]


async def test_inline_fallback_when_the_blob_store_fails(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 11)
    await grant(gen_api, owner, 20)

    async def disk_full(key: str, data: bytes) -> None:
        raise OSError("disk full")

    # Reads work (the references), every write fails (the outputs).
    with blobs_patched(gen_api, put=disk_full):
        result = await generate(gen_api, owner, [ref["id"]], n=2, size="PORTRAIT")
    assert result["__typename"] == "Generation", result
    assert result["status"] == "SUCCEEDED"
    assert "could not be stored" in result["warning"]
    assert len(result["images"]) == 2
    for image in result["images"]:
        assert image["mediaId"] is None and image["url"] is None
        picture = decode(base64.b64decode(image["base64"]))
        assert picture.size == (1024, 1536) == (image["width"], image["height"])
    # The provider succeeded, so the images were paid for - once.
    assert result["cost"] == 20
    assert await balance(gen_api, owner) == 0
    later = await gen_api.gql(
        "query($id: ID!) { generation(id: $id) { status warning cost images { base64 } } }",
        {"id": result["id"]},
        user=owner,
    )
    assert later["generation"]["images"] == []
    assert later["generation"]["warning"] == result["warning"]


async def test_two_simultaneous_generations_cannot_overspend(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 12)
    await grant(gen_api, owner, 10)
    provider.delay_s = 0.4
    results = await asyncio.gather(*(generate(gen_api, owner, [ref["id"]]) for _ in range(3)))
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["Generation", "InsufficientCreditsError", "InsufficientCreditsError"]
    assert len(provider.requests) == 1
    assert await balance(gen_api, owner) == 0


async def test_insufficient_credits_sends_nothing(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 13)
    await grant(gen_api, owner, 24)
    result = await generate(gen_api, owner, [ref["id"]], quality="HIGH")
    assert result == {
        "__typename": "InsufficientCreditsError",
        "code": "INSUFFICIENT_CREDITS",
        "message": "this generation costs 25 credits; 24 are available",
        "required": 25,
        "available": 24,
    }
    # Eight references cost the same as one: the price is per output image.
    refs = [ref["id"]] + [(await add_reference(gen_api, owner, 100 + i))["id"] for i in range(7)]
    ok = await generate(gen_api, owner, refs, quality="LOW", n=4)
    assert ok["__typename"] == "Generation" and ok["cost"] == 12
    assert len(provider.requests) == 1 and len(provider.requests[0].images) == 8
    assert await balance(gen_api, owner) == 12


async def test_an_openai_compatible_local_server_needs_no_key(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    """MEIMAGES_OPENAI_BASE_URL alone (e.g. a local FLUX/PuLID server) is a configured provider."""
    ref = await add_reference(gen_api, owner, 14)
    await grant(gen_api, owner, 10)
    provider.openai_key = ""
    try:
        local = endpoint(provider.url + "/v1/", "", "https://api.openai.com")
        with generation_config(gen_api, openai=local):
            result = await generate(gen_api, owner, [ref["id"]])
    finally:
        provider.openai_key = OPENAI_KEY
    assert result["__typename"] == "Generation", result
    [sent] = provider.requests
    assert "authorization" not in sent.headers and sent.problems == []


async def test_images_come_back_inline_when_recording_fails(
    gen_api: Api, owner: str, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resolvers.generation import service

    ref = await add_reference(gen_api, owner, 12)
    await grant(gen_api, owner, 10)

    async def database_gone(*args: object, **kwargs: object) -> int:
        raise ConnectionError("database went away")

    monkeypatch.setattr(service, "_finish_succeeded", database_gone)
    result = await generate(gen_api, owner, [ref["id"]], n=1)
    assert result["__typename"] == "Generation", result
    assert "could not be recorded" in result["warning"]
    assert len(result["images"]) == 1 and result["images"][0]["base64"]
    decode(base64.b64decode(result["images"][0]["base64"]))
    # Nothing was charged and no hold is left.
    assert result["cost"] == 0
    assert await balance(gen_api, owner) == 10
