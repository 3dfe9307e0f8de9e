"""Chaining: a generated picture as a reference of the next generation, under exactly the
pool's consent rules (opt-in off by default, kill switch, allowlists, consent end date,
usage ledger), on both databases against the provider test server."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlmodel import col

from storage.tables import ReferenceUse
from tests.consent.conftest import HandClock
from tests.generation.conftest import (
    add_reference,
    balance,
    generate,
    generation_count,
    grant,
)
from tests.support.app import Api
from tests.support.provider_server import ProviderServer

TAKE = """
mutation($m: ID!) { createMeImage(input: {mediaId: $m, kind: REFERENCE}) {
  __typename ... on MeImage { id usage { aiReference } } ... on Error { code message } } }
"""
OPT_IN = """
mutation($id: ID!, $enabled: Boolean!, $until: DateTime) {
  setAiReferenceEnabled(id: $id, enabled: $enabled, until: $until) { __typename }
}
"""
OUTPUTS = """
query { generations(first: 10) { ... on GenerationConnection { edges { node {
  id images { mediaId poolImage { id usage { aiReference } } } } } } } }
"""


async def _output(api: Api, owner: str, provider: ProviderServer) -> tuple[str, bytes]:
    """A first generation: its output's media id and the bytes the provider made."""
    face = await add_reference(api, owner, 31)
    made = await generate(api, owner, [face["id"]], quality="LOW")
    assert made["__typename"] == "Generation", made
    served = await api.client.get(made["images"][0]["url"])
    assert served.status_code == 200
    provider.reset()
    return made["images"][0]["mediaId"], served.content


async def _take(api: Api, owner: str, media_id: str) -> dict[str, Any]:
    taken = (await api.gql(TAKE, {"m": media_id}, user=owner))["createMeImage"]
    assert taken["__typename"] == "MeImage", taken
    return taken  # type: ignore[no-any-return]


async def _opt(api: Api, owner: str, image_id: str, enabled: bool, until: Any = None) -> None:
    data = await api.gql(OPT_IN, {"id": image_id, "enabled": enabled, "until": until}, user=owner)
    assert data["setAiReferenceEnabled"]["__typename"] == "MeImage", data


async def _uses(api: Api, owner: str, image_id: str) -> list[ReferenceUse]:
    async with api.stores.db.session() as session:
        query = select(ReferenceUse).where(
            col(ReferenceUse.owner_id) == owner, col(ReferenceUse.image_id) == image_id
        )
        return list((await session.execute(query)).scalars().all())


def _without_ids(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "referenceIds"}


async def test_an_output_not_opted_in_is_refused_like_an_unknown_id(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    await grant(gen_api, owner, 100)
    output_media, _ = await _output(gen_api, owner, provider)
    taken = await _take(gen_api, owner, output_media)
    # In the pool like an upload: AI use is off until the person switches it on.
    assert taken["usage"]["aiReference"] is False
    before, rows = await balance(gen_api, owner), await generation_count(gen_api, owner)

    unknown_id = str(uuid.uuid4())
    unknown = await generate(gen_api, owner, [unknown_id])
    not_opted_in = await generate(gen_api, owner, [taken["id"]])
    # The output's own media id is no reference id either.
    by_media_id = await generate(gen_api, owner, [output_media])

    assert unknown["__typename"] == "ReferenceNotUsableError", unknown
    assert unknown["referenceIds"] == [unknown_id]
    assert not_opted_in["referenceIds"] == [taken["id"]]
    assert by_media_id["referenceIds"] == [output_media]
    assert _without_ids(not_opted_in) == _without_ids(unknown)
    assert _without_ids(by_media_id) == _without_ids(unknown)
    assert provider.requests == []
    assert await balance(gen_api, owner) == before
    assert await generation_count(gen_api, owner) == rows
    assert await _uses(gen_api, owner, taken["id"]) == []


async def test_an_opted_in_output_is_chained_and_recorded(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    await grant(gen_api, owner, 100)
    output_media, output_bytes = await _output(gen_api, owner, provider)
    taken = await _take(gen_api, owner, output_media)
    face = await add_reference(gen_api, owner, 32)

    # The history shows which pool image was taken from the output.
    history = await gen_api.gql(OUTPUTS, user=owner)
    [edge] = history["generations"]["edges"]
    [image] = edge["node"]["images"]
    assert image["mediaId"] == output_media
    assert image["poolImage"] == {"id": taken["id"], "usage": {"aiReference": False}}

    await _opt(gen_api, owner, taken["id"], True)
    before = await balance(gen_api, owner)
    chained = await generate(gen_api, owner, [taken["id"], face["id"]], quality="LOW")

    assert chained["__typename"] == "Generation", chained
    assert chained["referenceIds"] == [taken["id"], face["id"]]
    assert await balance(gen_api, owner) == before - chained["cost"]
    [sent] = provider.requests
    assert sent.problems == []
    # The chained output arrives as an image[] part like any reference, pixel for pixel.
    assert sent.body.count(b'name="image[]"') == 2
    received = Image.open(io.BytesIO(sent.images[0])).convert("RGB")
    original = Image.open(io.BytesIO(output_bytes)).convert("RGB")
    assert received.size == original.size
    assert received.tobytes() == original.tobytes()
    [use] = await _uses(gen_api, owner, taken["id"])
    assert (use.generation_id, use.provider, use.outcome) == (
        chained["id"],
        "openai-compatible",
        "succeeded",
    )


async def test_the_kill_switch_allowlist_and_end_date_hold_for_outputs(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    await grant(gen_api, owner, 100)
    output_media, _ = await _output(gen_api, owner, provider)
    taken = await _take(gen_api, owner, output_media)
    stores = gen_api.stores
    real_clock = stores.clock
    hand = HandClock(datetime.now(UTC))
    stores.clock = hand
    try:
        until = (hand.now() + timedelta(hours=1)).isoformat()
        await _opt(gen_api, owner, taken["id"], True, until)
        rows = await generation_count(gen_api, owner)

        # Kill switch off: refused, nothing sent.
        await gen_api.gql(
            "mutation { setAiUsesReferenceImages(enabled: false) { aiUsesReferenceImages } }",
            user=owner,
        )
        off = await generate(gen_api, owner, [taken["id"]])
        assert off["__typename"] == "ReferenceNotUsableError", off
        await gen_api.gql(
            "mutation { setAiUsesReferenceImages(enabled: true) { aiUsesReferenceImages } }",
            user=owner,
        )

        # Only gemini allowed: the OpenAI-compatible test server may not receive it.
        allowed = await gen_api.gql(
            "mutation { setAllowedProviders(providers: [GEMINI]) { allowedProviders } }",
            user=owner,
        )
        assert allowed["setAllowedProviders"]["allowedProviders"] == ["GEMINI"]
        barred = await generate(gen_api, owner, [taken["id"]])
        assert barred["__typename"] == "ProviderNotAllowedError", barred
        await gen_api.gql(
            "mutation { setAllowedProviders(providers: [OPENAI, OPENAI_COMPATIBLE, GEMINI]) "
            "{ allowedProviders } }",
            user=owner,
        )

        # Past the consent end date: refused like any lapsed reference.
        hand.advance(2 * 3600)
        lapsed = await generate(gen_api, owner, [taken["id"]])
        assert lapsed["__typename"] == "ReferenceNotUsableError", lapsed
        assert provider.requests == []
        assert await generation_count(gen_api, owner) == rows
        assert await _uses(gen_api, owner, taken["id"]) == []
    finally:
        stores.clock = real_clock
