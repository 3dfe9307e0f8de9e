"""Idempotency keys: a retried generation is made, and charged, once.

Counts provider calls at the provider test server and charges in the credit ledger.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from resolvers.generation import service
from storage.tables import GenerationRecord, utcnow
from tests.generation.conftest import (
    GENERATION,
    add_reference,
    balance,
    grant,
    ledger,
)
from tests.support.app import Api
from tests.support.provider_server import Mode, ProviderServer

GENERATE_KEYED = (
    "mutation($input: GenerationInput!, $key: String) {"
    " generateWithReference(input: $input, idempotencyKey: $key) {" + GENERATION + "} }"
)
GET = "query($id: ID!) { generation(id: $id) { id status cost failure images { mediaId } } }"


async def generate_keyed(
    api: Api,
    owner: str,
    references: list[str],
    key: str | None,
    space: str | None = None,
    **input: Any,
) -> dict[str, Any]:
    variables = {
        "input": {"prompt": "me as an astronaut", "referenceImageIds": references, **input},
        "key": key,
    }
    data = await api.gql(GENERATE_KEYED, variables, user=owner, space=space)
    result: dict[str, Any] = data["generateWithReference"]
    return result


async def charges(api: Api, owner: str) -> list[int]:
    return [e["delta"] for e in await ledger(api, owner) if e["reason"] == "generation"]


async def test_a_retry_returns_the_first_generation_charged_once(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 1)
    await grant(gen_api, owner, 100)
    first = await generate_keyed(gen_api, owner, [ref["id"]], "retry-1", quality="HIGH")
    assert first["__typename"] == "Generation" and first["status"] == "SUCCEEDED", first
    # The prompt is compared after the same normalisation as the call itself (trimmed).
    again = await generate_keyed(
        gen_api, owner, [ref["id"]], "retry-1", quality="HIGH", prompt="  me as an astronaut "
    )
    assert again["__typename"] == "Generation", again
    assert again["id"] == first["id"] and again["status"] == "SUCCEEDED"
    assert again["cost"] == first["cost"] == 25
    assert [i["mediaId"] for i in again["images"]] == [i["mediaId"] for i in first["images"]]
    assert len(provider.requests) == 1
    assert await charges(gen_api, owner) == [-25]
    assert await balance(gen_api, owner) == 75
    # Without a key every call is a new generation, as before.
    for _ in range(2):
        plain = await generate_keyed(gen_api, owner, [ref["id"]], None, quality="LOW")
        assert plain["status"] == "SUCCEEDED"
    assert len(provider.requests) == 3
    assert sorted(await charges(gen_api, owner)) == [-25, -3, -3]


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "me as a diver"},
        {"quality": "LOW"},
        {"size": "PORTRAIT"},
        {"n": 2},
        {"model": "openai/gpt-image-1"},
        {"swap": True},
    ],
)
async def test_the_same_key_with_another_input_is_refused(
    gen_api: Api, owner: str, provider: ProviderServer, change: dict[str, Any]
) -> None:
    a = await add_reference(gen_api, owner, 2)
    b = await add_reference(gen_api, owner, 3)
    await grant(gen_api, owner, 100)
    first = await generate_keyed(gen_api, owner, [a["id"], b["id"]], "k-1")
    assert first["status"] == "SUCCEEDED", first
    change = dict(change)  # the parameter is shared by both databases' runs
    refs = [b["id"], a["id"]] if change.pop("swap", False) else [a["id"], b["id"]]
    other = await generate_keyed(gen_api, owner, refs, "k-1", **change)
    assert other["__typename"] == "InvalidInputError", other
    assert other["code"] == "INVALID_INPUT" and other["field"] == "idempotencyKey"
    assert "already used with a different input" in other["message"]
    assert len(provider.requests) == 1
    assert await charges(gen_api, owner) == [-10]


async def test_keys_are_scoped_to_the_owner_and_the_space(
    gen_api: Api, owner: str, other_owner: str, provider: ProviderServer
) -> None:
    mine = await add_reference(gen_api, owner, 4)
    brand = await add_reference(gen_api, owner, 5, space="brand")
    theirs = await add_reference(gen_api, other_owner, 6)
    await grant(gen_api, owner, 100)
    await grant(gen_api, other_owner, 100)
    first = await generate_keyed(gen_api, owner, [mine["id"]], "shared-key")
    in_brand = await generate_keyed(gen_api, owner, [brand["id"]], "shared-key", space="brand")
    other = await generate_keyed(gen_api, other_owner, [theirs["id"]], "shared-key")
    ids = {first["id"], in_brand["id"], other["id"]}
    assert len(ids) == 3 and all(r["status"] == "SUCCEEDED" for r in (first, in_brand, other)), (
        first,
        in_brand,
        other,
    )
    assert len(provider.requests) == 3
    assert await charges(gen_api, owner) == [-10, -10]
    assert await charges(gen_api, other_owner) == [-10]


@pytest.mark.parametrize("key", ["", "x" * 129, "has space", "tab\tkey", "ümlaut", "new\nline"])
async def test_malformed_keys_are_invalid_input(
    gen_api: Api, owner: str, provider: ProviderServer, key: str
) -> None:
    ref = await add_reference(gen_api, owner, 7)
    await grant(gen_api, owner, 100)
    result = await generate_keyed(gen_api, owner, [ref["id"]], key)
    assert result["__typename"] == "InvalidInputError", result
    assert result["field"] == "idempotencyKey" and "1 to 128" in result["message"]
    assert provider.requests == []
    longest = await generate_keyed(gen_api, owner, [ref["id"]], "~" * 128)
    assert longest["status"] == "SUCCEEDED", longest


async def test_a_retry_while_the_first_call_runs_returns_it_pending(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 8)
    await grant(gen_api, owner, 100)
    provider.hold()
    first_call = asyncio.create_task(generate_keyed(gen_api, owner, [ref["id"]], "slow"))
    try:
        await provider.wait_until_held()
        retry = await generate_keyed(gen_api, owner, [ref["id"]], "slow")
        assert retry["__typename"] == "Generation", retry
        assert retry["status"] == "PENDING"
        assert retry["images"] == [] and retry["cost"] == 0 and retry["completedAt"] is None
        assert await balance(gen_api, owner) == 90  # held, not charged
        polled = await gen_api.gql(GET, {"id": retry["id"]}, user=owner)
        assert polled["generation"]["status"] == "PENDING"
    finally:
        provider.release()
    first = await asyncio.wait_for(first_call, 60)
    assert first["id"] == retry["id"] and first["status"] == "SUCCEEDED", first
    after = await generate_keyed(gen_api, owner, [ref["id"]], "slow")
    assert after["id"] == first["id"] and after["status"] == "SUCCEEDED"
    assert len(provider.requests) == 1
    assert await charges(gen_api, owner) == [-10]
    assert await balance(gen_api, owner) == 90


async def test_ten_concurrent_retries_make_one_call_and_one_charge(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 9)
    await grant(gen_api, owner, 100)
    provider.hold()
    calls = [
        asyncio.create_task(generate_keyed(gen_api, owner, [ref["id"]], "burst")) for _ in range(10)
    ]
    try:
        await provider.wait_until_held()
        # While the provider holds the one call that reached it, the nine others answer.
        done: set[asyncio.Task[dict[str, Any]]] = set()
        pending = set(calls)
        for _ in range(9):
            if len(done) >= 9:
                break
            finished, pending = await asyncio.wait(
                pending, timeout=60, return_when=asyncio.FIRST_COMPLETED
            )
            assert finished, "the retries did not answer while the first call ran"
            done |= finished
        assert len(done) == 9 and len(pending) == 1
        early = [t.result() for t in done]
        assert {r["status"] for r in early} == {"PENDING"}, early
    finally:
        provider.release()
    results = await asyncio.wait_for(asyncio.gather(*calls), 60)
    assert len({r["id"] for r in results}) == 1
    assert sorted(r["status"] for r in results) == ["PENDING"] * 9 + ["SUCCEEDED"]
    assert len(provider.requests) == 1
    assert await charges(gen_api, owner) == [-10]
    assert await balance(gen_api, owner) == 90


async def test_ten_concurrent_retries_unheld(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 10)
    await grant(gen_api, owner, 100)
    results = await asyncio.gather(
        *(generate_keyed(gen_api, owner, [ref["id"]], "burst-2") for _ in range(10))
    )
    assert len({r["id"] for r in results}) == 1, results
    assert len(provider.requests) == 1
    assert await charges(gen_api, owner) == [-10]
    final = await gen_api.gql(GET, {"id": results[0]["id"]}, user=owner)
    assert final["generation"]["status"] == "SUCCEEDED"


async def test_a_failed_first_call_is_replayed_not_retried(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 11)
    await grant(gen_api, owner, 100)
    provider.mode = Mode.ERROR_500
    first = await generate_keyed(gen_api, owner, [ref["id"]], "fails")
    assert first["__typename"] == "ProviderFailedError", first
    provider.mode = Mode.OK
    again = await generate_keyed(gen_api, owner, [ref["id"]], "fails")
    assert again["__typename"] == "ProviderFailedError", again
    assert (again["generationId"], again["provider"], again["detail"]) == (
        first["generationId"],
        first["provider"],
        first["detail"],
    )
    assert len(provider.requests) == 1
    assert await charges(gen_api, owner) == []
    assert await balance(gen_api, owner) == 100
    # A new key is a new attempt.
    fresh = await generate_keyed(gen_api, owner, [ref["id"]], "fails-2")
    assert fresh["status"] == "SUCCEEDED"
    assert len(provider.requests) == 2


async def test_refusals_before_any_row_do_not_use_up_the_key(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 12)
    broke = await generate_keyed(gen_api, owner, [ref["id"]], "later")
    assert broke["__typename"] == "InsufficientCreditsError", broke
    await grant(gen_api, owner, 100)
    paid = await generate_keyed(gen_api, owner, [ref["id"]], "later")
    assert paid["status"] == "SUCCEEDED", paid
    assert len(provider.requests) == 1


async def test_the_unique_index_holds_when_the_check_is_missed(
    gen_api: Api, owner: str, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two instances that both looked before either inserted: the index keeps one row and
    the loser answers with the winner's generation."""
    ref = await add_reference(gen_api, owner, 13)
    await grant(gen_api, owner, 100)
    first = await generate_keyed(gen_api, owner, [ref["id"]], "race")
    assert first["status"] == "SUCCEEDED"
    real = service._keyed
    misses = {"left": 2}  # the look before preparing and the one under the lock

    async def blind(*args: Any) -> str | None:
        if misses["left"]:
            misses["left"] -= 1
            return None
        return await real(*args)

    monkeypatch.setattr(service, "_keyed", blind)
    again = await generate_keyed(gen_api, owner, [ref["id"]], "race")
    assert misses["left"] == 0
    assert again["id"] == first["id"] and again["status"] == "SUCCEEDED", again
    assert len(provider.requests) == 1
    assert await charges(gen_api, owner) == [-10]


async def test_the_database_refuses_a_second_row_with_one_key(gen_api: Api, owner: str) -> None:
    stores = gen_api.stores
    await grant(gen_api, owner, 1)

    def row(space: str, key: str | None) -> GenerationRecord:
        now = utcnow()
        return GenerationRecord(
            owner_id=owner,
            space_id=space,
            status="failed",
            prompt_ct=b"-",
            model_requested="openai/gpt-image-2",
            quality="low",
            size="auto",
            n=1,
            created_at=now,
            heartbeat_at=now,
            idempotency_key=key,
        )

    async with stores.db.transaction() as session:
        session.add_all([row("personal", "k"), row("brand", "k"), row("personal", None)])
        session.add(row("personal", None))
    with pytest.raises(IntegrityError):
        async with stores.db.transaction() as session:
            session.add(row("personal", "k"))
    async with stores.db.session() as session:
        keys = (
            await session.execute(
                select(GenerationRecord.idempotency_key).where(  # type: ignore[call-overload]
                    GenerationRecord.owner_id == owner
                )
            )
        ).scalars()
        assert sorted(k or "" for k in keys) == ["", "", "k", "k"]
