"""The Google Gemini provider behind the same interface: references inline as base64."""

from __future__ import annotations

import base64

import pytest

from testbed.images import decode
from tests.generation.conftest import GEMINI_KEY, add_reference, balance, generate, grant
from tests.support.app import Api
from tests.support.provider_server import Mode, ProviderServer


async def test_gemini_generates_one_call_per_image(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    a = await add_reference(gen_api, owner, 60)
    b = await add_reference(gen_api, owner, 61)
    await grant(gen_api, owner, 40)
    result = await generate(
        gen_api,
        owner,
        [a["id"], b["id"]],
        model="google/gemini-2.5-flash-image",
        size="PORTRAIT",
        quality="HIGH",
        n=2,
        prompt="me in a studio portrait",
    )
    assert result["__typename"] == "Generation", result
    assert result["modelUsed"] == "google/gemini-2.5-flash-image"
    assert result["cost"] == 10  # flat 5 per image, whatever the quality
    assert await balance(gen_api, owner) == 30
    assert [(i["width"], i["height"]) for i in result["images"]] == [(832, 1248)] * 2
    for image in result["images"]:
        assert decode((await gen_api.client.get(image["url"])).content).size == (832, 1248)

    assert len(provider.requests) == 2
    for sent in provider.requests:
        assert sent.protocol == "gemini" and sent.model == "gemini-2.5-flash-image"
        assert sent.problems == []
        assert sent.headers["x-goog-api-key"] == GEMINI_KEY
        assert GEMINI_KEY.encode() not in sent.body  # the key travels in a header only
        parts = sent.gemini["contents"][0]["parts"]
        assert parts[0] == {"text": "me in a studio portrait"}
        assert [p["inlineData"]["mimeType"] for p in parts[1:]] == ["image/png"] * 2
        assert [base64.b64decode(p["inlineData"]["data"]) for p in parts[1:]] == sent.images
        # The source app's call: TEXT alongside IMAGE, 1K images in the asked aspect.
        assert sent.gemini["generationConfig"] == {
            "responseModalities": ["TEXT", "IMAGE"],
            "imageConfig": {"imageSize": "1K", "aspectRatio": "2:3"},
        }


async def test_gemini_auto_size_sends_no_aspect_ratio(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 62)
    await grant(gen_api, owner, 18)
    result = await generate(
        gen_api, owner, [ref["id"]], model="google/gemini-3-pro-image-preview", size="AUTO"
    )
    assert result["__typename"] == "Generation", result
    assert result["cost"] == 18
    assert await balance(gen_api, owner) == 0
    [sent] = provider.requests
    assert sent.model == "gemini-3-pro-image-preview"
    assert sent.gemini["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"imageSize": "1K"},
    }


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("google/gemini-2.5-flash-image", 5),
        ("google/gemini-3.1-flash-image-preview", 6),
        ("google/gemini-3-pro-image-preview", 18),
    ],
)
async def test_gemini_models_cost_the_source_apps_prices(
    gen_api: Api, owner: str, provider: ProviderServer, model: str, price: int
) -> None:
    ref = await add_reference(gen_api, owner, 65)
    await grant(gen_api, owner, 2 * price)
    result = await generate(gen_api, owner, [ref["id"]], model=model, n=2)
    assert result["__typename"] == "Generation", result
    assert result["modelUsed"] == model and result["cost"] == 2 * price
    assert await balance(gen_api, owner) == 0
    assert [sent.model for sent in provider.requests] == [model.removeprefix("google/")] * 2
    assert all(sent.problems == [] for sent in provider.requests)


async def test_gemini_refusal_without_image_is_a_provider_failure(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 63)
    await grant(gen_api, owner, 8)
    provider.mode = Mode.BLOCKED
    result = await generate(gen_api, owner, [ref["id"]], model="google/gemini-2.5-flash-image")
    assert result["__typename"] == "ProviderFailedError", result
    assert result["provider"] == "gemini"
    assert result["detail"] == "the reply contained no image (IMAGE_SAFETY)"
    assert await balance(gen_api, owner) == 8


async def test_gemini_failure_of_one_of_n_calls_charges_nothing(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 64)
    await grant(gen_api, owner, 16)
    provider.mode = Mode.ERROR_500
    result = await generate(gen_api, owner, [ref["id"]], model="google/gemini-2.5-flash-image", n=3)
    assert result["__typename"] == "ProviderFailedError", result
    assert result["detail"] == "HTTP 500, provider error (INTERNAL)"
    assert await balance(gen_api, owner) == 16
