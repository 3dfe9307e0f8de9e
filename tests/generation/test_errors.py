"""Every typed error of generateWithReference, and what each one leaves behind."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from resolvers.errors import InvalidInput
from resolvers.generation.requests import GenerationRequest, validate
from testbed.images import jpeg
from tests.generation.conftest import (
    GEMINI_KEY,
    GENERATE,
    OPENAI_KEY,
    add_reference,
    balance,
    generate,
    generation_config,
    grant,
    history_ids,
)
from tests.support.app import Api
from tests.support.provider_server import Mode, ProviderServer

INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "empty-prompt": ({"prompt": ""}, "prompt"),
    "blank-prompt": ({"prompt": " \n\t "}, "prompt"),
    "long-prompt": ({"prompt": "x" * 32_001}, "prompt"),
    "no-references": ({"referenceImageIds": []}, "referenceImageIds"),
    "nine-references": ({"referenceImageIds": [f"id-{i}" for i in range(9)]}, "referenceImageIds"),
    "duplicate-reference": ({"referenceImageIds": ["REF", "REF"]}, "referenceImageIds"),
    "n-zero": ({"n": 0}, "n"),
    "n-five": ({"n": 5}, "n"),
    "unknown-model": ({"model": "openai/dall-e-2"}, "model"),
}


@pytest.mark.parametrize("case", list(INVALID))
async def test_invalid_input(gen_api: Api, owner: str, provider: ProviderServer, case: str) -> None:
    ref = await add_reference(gen_api, owner, 40)
    await grant(gen_api, owner, 10)
    changes, field = INVALID[case]
    if changes.get("referenceImageIds") == ["REF", "REF"]:
        changes = {"referenceImageIds": [ref["id"], ref["id"]]}
    result = await generate(gen_api, owner, [ref["id"]], **changes)
    assert result["__typename"] == "InvalidInputError", result
    assert result["code"] == "INVALID_INPUT" and result["field"] == field
    assert provider.requests == []
    assert await balance(gen_api, owner) == 10


async def test_bad_size_or_quality_never_reach_the_resolver(gen_api: Api, owner: str) -> None:
    """The enums refuse them at validation; the domain function refuses them too."""
    for bad in ({"size": "HUGE"}, {"quality": "ULTRA"}, {"size": "1024x1024"}):
        response = await gen_api.client.post(
            "/graphql",
            json={
                "query": GENERATE,
                "variables": {"input": {"prompt": "p", "referenceImageIds": ["x"], **bad}},
            },
            headers=gen_api.headers(owner),
        )
        body = response.json()
        assert "data" not in body or body["data"] is None
        assert "GenerationSize" in str(body["errors"]) or "GenerationQuality" in str(body["errors"])
    with pytest.raises(InvalidInput) as raised:
        validate(GenerationRequest(prompt="p", reference_ids=["x"], size="2048x2048"))
    assert raised.value.field == "size"
    with pytest.raises(InvalidInput) as raised:
        validate(GenerationRequest(prompt="p", reference_ids=["x"], quality="ultra"))
    assert raised.value.field == "quality"


FAILURES = {
    Mode.ERROR_500: "HTTP 500, provider error (server_error)",
    Mode.MALFORMED: "the reply was not valid JSON",
    Mode.NOT_AN_IMAGE: "the reply contained data that is not an image",
    Mode.TIMEOUT: "no answer within",
}


@pytest.mark.parametrize("mode", list(FAILURES))
async def test_provider_failures_are_recorded_and_not_charged(
    gen_api: Api, owner: str, provider: ProviderServer, mode: str
) -> None:
    ref = await add_reference(gen_api, owner, 41)
    await grant(gen_api, owner, 10)
    provider.mode = mode
    # A short read timeout only where the provider hangs (for HANG_S, far longer); every
    # other failure has all the time a slow machine needs to arrive as itself.
    timeout_s = 0.5 if mode == Mode.TIMEOUT else 60.0
    with generation_config(gen_api, timeout_s=timeout_s, connect_timeout_s=30.0):
        result = await generate(gen_api, owner, [ref["id"]])
    assert result["__typename"] == "ProviderFailedError", result
    assert result["code"] == "PROVIDER_FAILED" and result["provider"] == "openai"
    assert result["detail"].startswith(FAILURES[mode]), result["detail"]
    assert len(result["detail"]) < 120
    # The provider's own text (which here echoes the key) never reaches the client.
    assert OPENAI_KEY not in str(result) and "sk-" not in str(result)
    assert len(provider.requests) == 1
    # Held credits are released, nothing is charged, the failure is on record.
    assert await balance(gen_api, owner) == 10
    record = await gen_api.gql(
        "query($id: ID!) { generation(id: $id) { status failure cost completedAt } }",
        {"id": result["generationId"]},
        user=owner,
    )
    assert record["generation"]["status"] == "FAILED"
    assert record["generation"]["failure"] == result["detail"]
    assert record["generation"]["cost"] == 0


async def test_a_rejected_key_is_not_echoed(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 42)
    await grant(gen_api, owner, 10)
    provider.openai_key, real = "sk-some-other-key", provider.openai_key
    try:
        result = await generate(gen_api, owner, [ref["id"]])
    finally:
        provider.openai_key = real
    assert result["__typename"] == "ProviderFailedError", result
    assert result["detail"] == "HTTP 401, the API key was rejected (invalid_api_key)"
    assert "sk-" not in result["message"]


async def test_too_large_references_are_refused_before_sending(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    a = await add_reference(gen_api, owner, 43)
    b = await add_reference(gen_api, owner, 44)
    await grant(gen_api, owner, 10)
    with generation_config(gen_api, max_request_bytes=2_000):
        result = await generate(gen_api, owner, [a["id"], b["id"]])
    assert result["__typename"] == "TooLargeError", result
    assert result["code"] == "TOO_LARGE" and result["maxBytes"] == 2_000
    assert provider.requests == []
    assert await balance(gen_api, owner) == 10
    assert await history_ids(gen_api, owner) == []


async def test_unconfigured_provider_answers_with_a_typed_error(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 45)
    with generation_config(gen_api, gemini=None):
        result = await generate(gen_api, owner, [ref["id"]], model="google/gemini-2.5-flash-image")
    assert result["__typename"] == "ProviderNotConfiguredError", result
    assert result["provider"] == "gemini"
    assert provider.requests == []


async def test_embedded_default_has_no_provider(api: Api, owner: str) -> None:
    """The stock setup, no keys anywhere: a clear typed answer, not a crash."""
    image = await api.upload(jpeg(46), user=owner)
    result = await generate(api, owner, [image["id"]])
    assert result == {
        "__typename": "ProviderNotConfiguredError",
        "code": "PROVIDER_NOT_CONFIGURED",
        "message": "no openai provider is configured on this server "
        "(set MEIMAGES_OPENAI_API_KEY or MEIMAGES_OPENAI_BASE_URL)",
        "provider": "openai",
    }
    models = await api.gql("{ generationModels { id configured } }", user=owner)
    assert not any(m["configured"] for m in models["generationModels"])
    assert (await api.gql("{ profile { credits } }", user=owner))["profile"]["credits"] == 0


async def test_secrets_and_image_bytes_never_reach_the_logs(
    gen_api: Api, owner: str, provider: ProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    import base64

    ref = await add_reference(gen_api, owner, 47)
    await grant(gen_api, owner, 50)
    caplog.set_level(logging.DEBUG)
    ok = await generate(gen_api, owner, [ref["id"]])
    google = await generate(gen_api, owner, [ref["id"]], model="google/gemini-2.5-flash-image")
    provider.mode = Mode.UNVERIFIED
    fallback = await generate(gen_api, owner, [ref["id"]])
    provider.mode = Mode.ERROR_500
    failed = await generate(gen_api, owner, [ref["id"]])
    assert [r["__typename"] for r in (ok, google, fallback, failed)] == [
        "Generation",
        "Generation",
        "Generation",
        "ProviderFailedError",
    ]
    text = "\n".join(
        [r.getMessage() for r in caplog.records]
        + [r.exc_text or "" for r in caplog.records]
        + [str(r.args) for r in caplog.records]
    )
    assert any("meimages.generation" in r.name for r in caplog.records)
    assert OPENAI_KEY not in text and GEMINI_KEY not in text
    for sent in provider.requests:
        for png in sent.images:
            assert base64.b64encode(png)[:200].decode() not in text
    assert "astronaut" not in text  # prompts stay out of the logs too
