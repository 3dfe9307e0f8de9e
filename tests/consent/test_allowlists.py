"""Which providers may receive the owner's images: the owner's allowlist and the
operator's, each refusing before anything is read or sent, and naming its rule."""

from __future__ import annotations

from typing import Any

import pytest

from api.settings import ConfigError, Settings
from resolvers.config.generation import ProviderKind
from tests.consent.conftest import generation_rows, ledger_rows
from tests.generation.conftest import (
    GENERATE,
    add_reference,
    balance,
    blobs_patched,
    generation_config,
    grant,
)
from tests.support.app import Api
from tests.support.provider_server import ProviderServer

# Every kind the server knows, the operator's own engine (COMFYUI) included.
ALL = [kind.name for kind in ProviderKind]
GEMINI = "google/gemini-2.5-flash-image"
OPENAI = "openai/gpt-image-1"
SET_ALLOWED = """
mutation($providers: [ProviderKind!]!) {
  setAllowedProviders(providers: $providers) { allowedProviders }
}
"""
REFUSAL = (
    "mutation($input: GenerationInput!) { generateWithReference(input: $input) { __typename "
    "... on ProviderNotAllowedError { code message provider providerKind rule } } }"
)


async def _allow(api: Api, owner: str, providers: list[str]) -> list[str]:
    data = await api.gql(SET_ALLOWED, {"providers": providers}, user=owner)
    allowed: list[str] = data["setAllowedProviders"]["allowedProviders"]
    return allowed


async def _generate(api: Api, owner: str, image_id: str, model: str) -> dict[str, Any]:
    variables = {"input": {"prompt": "me", "referenceImageIds": [image_id], "model": model}}
    data = await api.gql(REFUSAL if model else GENERATE, variables, user=owner)
    result: dict[str, Any] = data["generateWithReference"]
    return result


async def _refused_before_anything(
    api: Api, owner: str, image_id: str, model: str, provider: ProviderServer
) -> dict[str, Any]:
    """Generate, and show that nothing was read, sent, recorded or charged."""
    before = (await balance(api, owner), len(await ledger_rows(api, owner)))
    generations = await generation_rows(api, owner)
    real = api.stores.blobs
    reads: list[str] = []

    async def watched(key: str) -> bytes | None:
        reads.append(key)
        return await real.get(key)

    with blobs_patched(api, get=watched):
        result = await _generate(api, owner, image_id, model)
    assert reads == [] and provider.requests == []
    assert (await balance(api, owner), len(await ledger_rows(api, owner))) == before
    assert await generation_rows(api, owner) == generations
    return result


async def test_the_default_allows_every_provider_and_a_choice_is_kept(
    gen_api: Api, owner: str
) -> None:
    profile = await gen_api.gql("{ profile { allowedProviders } }", user=owner)
    assert profile["profile"]["allowedProviders"] == ALL
    assert await _allow(gen_api, owner, ["GEMINI", "GEMINI"]) == ["GEMINI"]
    # Per owner: the same list in another space of theirs.
    other_space = await gen_api.gql("{ profile { allowedProviders } }", user=owner, space="club")
    assert other_space["profile"]["allowedProviders"] == ["GEMINI"]
    assert await _allow(gen_api, owner, []) == []
    assert await _allow(gen_api, owner, ALL) == ALL


async def test_the_owners_list_refuses_an_openai_compatible_server_but_not_gemini(
    gen_api: Api, owner: str, other_owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 501)
    await grant(gen_api, owner, 50)
    await _allow(gen_api, owner, ["OPENAI", "GEMINI"])
    refused = await _refused_before_anything(gen_api, owner, ref["id"], OPENAI, provider)
    assert refused["__typename"] == "ProviderNotAllowedError"
    assert (refused["code"], refused["providerKind"], refused["rule"]) == (
        "PROVIDER_NOT_ALLOWED",
        "OPENAI_COMPATIBLE",
        "OWNER",
    )
    assert refused["provider"] == "openai-compatible"
    assert "setAllowedProviders" in refused["message"]
    assert (await _generate(gen_api, owner, ref["id"], GEMINI))["__typename"] == "Generation"
    assert [r.provider for r in await ledger_rows(gen_api, owner)] == ["gemini"]
    # Another owner's list is their own: this one still sends anywhere.
    theirs = await add_reference(gen_api, other_owner, 502)
    await grant(gen_api, other_owner, 50)
    sent = await _generate(gen_api, other_owner, theirs["id"], OPENAI)
    assert sent["__typename"] == "Generation"


async def test_the_owners_list_refuses_gemini_but_not_openai(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 511)
    await grant(gen_api, owner, 50)
    await _allow(gen_api, owner, ["OPENAI_COMPATIBLE"])
    refused = await _refused_before_anything(gen_api, owner, ref["id"], GEMINI, provider)
    assert (refused["providerKind"], refused["rule"]) == ("GEMINI", "OWNER")
    assert (await _generate(gen_api, owner, ref["id"], OPENAI))["__typename"] == "Generation"
    await _allow(gen_api, owner, [])
    provider.reset()  # forget the allowed send above
    refused = await _refused_before_anything(gen_api, owner, ref["id"], OPENAI, provider)
    assert refused["rule"] == "OWNER"


async def test_the_servers_list_from_the_environment_refuses_openai_but_not_gemini(
    gemini_only_api: Api, owner: str, provider: ProviderServer
) -> None:
    api = gemini_only_api
    ref = await add_reference(api, owner, 521)
    await grant(api, owner, 50)
    refused = await _refused_before_anything(api, owner, ref["id"], OPENAI, provider)
    assert (refused["providerKind"], refused["rule"]) == ("OPENAI_COMPATIBLE", "SERVER")
    assert "MEIMAGES_ALLOWED_PROVIDERS" in refused["message"]
    # The owner allowing it changes nothing: it must be on both lists.
    assert await _allow(api, owner, ALL) == ALL
    refused = await _refused_before_anything(api, owner, ref["id"], OPENAI, provider)
    assert refused["rule"] == "SERVER"
    assert (await _generate(api, owner, ref["id"], GEMINI))["__typename"] == "Generation"


async def test_the_servers_list_refuses_gemini_but_not_openai_compatible(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 531)
    await grant(gen_api, owner, 50)
    narrowed = frozenset({ProviderKind.OPENAI_COMPATIBLE})
    with generation_config(gen_api, allowed_providers=narrowed):
        refused = await _refused_before_anything(gen_api, owner, ref["id"], GEMINI, provider)
        assert (refused["providerKind"], refused["rule"]) == ("GEMINI", "SERVER")
        sent = await _generate(gen_api, owner, ref["id"], OPENAI)
        assert sent["__typename"] == "Generation"


async def test_the_allowlist_is_checked_again_at_send_time(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    """The owner narrows their list while the references are being read: nothing is sent."""
    ref = await add_reference(gen_api, owner, 541)
    await grant(gen_api, owner, 10)
    real = gen_api.stores.blobs
    narrowed: list[list[str]] = []

    async def read_then_narrow(key: str) -> bytes | None:
        data = await real.get(key)
        if not narrowed:
            narrowed.append(await _allow(gen_api, owner, ["GEMINI"]))
        return data

    with blobs_patched(gen_api, get=read_then_narrow):
        result = await _generate(gen_api, owner, ref["id"], OPENAI)
    assert narrowed == [["GEMINI"]]
    assert (result["__typename"], result["rule"]) == ("ProviderNotAllowedError", "OWNER")
    assert provider.requests == [] and await ledger_rows(gen_api, owner) == []
    assert await balance(gen_api, owner) == 10


def test_the_setting_takes_known_kinds_only() -> None:
    parsed = Settings.from_env({"MEIMAGES_ALLOWED_PROVIDERS": " OpenAI , openai-compatible "})
    assert parsed.generation_config().allowed_providers == frozenset(
        {ProviderKind.OPENAI, ProviderKind.OPENAI_COMPATIBLE}
    )
    assert Settings.from_env({}).generation_config().allowed_providers is None
    with pytest.raises(ConfigError, match="MEIMAGES_ALLOWED_PROVIDERS"):
        Settings.from_env({"MEIMAGES_ALLOWED_PROVIDERS": "openai,midjourney"})


async def test_an_unknown_provider_name_is_a_validation_error(gen_api: Api, owner: str) -> None:
    response = await gen_api.post(SET_ALLOWED, {"providers": ["MIDJOURNEY"]}, user=owner)
    assert response.status_code == 200
    body = response.json()
    assert body.get("data") is None and body["errors"]
    assert "Traceback" not in response.text
    profile = await gen_api.gql("{ profile { allowedProviders } }", user=owner)
    assert profile["profile"]["allowedProviders"] == ALL
