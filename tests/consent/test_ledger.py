"""The usage ledger: one row per reference per send, whatever the send's outcome, none
for a refusal or a replay; visible to its owner only; kept while the generation is."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event

from resolvers.generation.ledger import all_uses
from resolvers.lifecycle.purge import purge_owner
from tests.consent.conftest import generation_rows, ledger_rows
from tests.generation.conftest import add_reference, generate, grant
from tests.support.app import Api
from tests.support.provider_server import Mode, ProviderServer

USES = """
query($id: ID!, $first: Int!, $after: String) {
  meImage(id: $id) {
    useCount lastUsedAt
    uses(first: $first, after: $after) {
      edges { cursor node { generationId provider host model outcome usedAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
RECIPIENTS = "{ profile { recipients { provider host uses images lastUsedAt } } }"
POOL = "{ meImages { id useCount lastUsedAt } }"


async def _uses(api: Api, owner: str, image_id: str, first: int = 10, **kw: Any) -> Any:
    data = await api.gql(USES, {"id": image_id, "first": first, **kw}, user=owner)
    return data["meImage"]


async def test_a_successful_send_is_recorded_once_per_reference(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    first, second = [await add_reference(gen_api, owner, seed) for seed in (301, 302)]
    unsent = await add_reference(gen_api, owner, 303)
    await grant(gen_api, owner, 50)
    result = await generate(gen_api, owner, [first["id"], second["id"]])
    assert result["__typename"] == "Generation" and result["status"] == "SUCCEEDED"
    assert len(provider.requests) == 1 and len(provider.requests[0].images) == 2

    rows = await ledger_rows(gen_api, owner)
    assert sorted(r.image_id for r in rows) == sorted([first["id"], second["id"]])
    assert {(r.generation_id, r.provider, r.host, r.model, r.outcome) for r in rows} == {
        (result["id"], "openai-compatible", "127.0.0.1", "openai/gpt-image-2", "succeeded")
    }
    for image in (first, second):
        uses = await _uses(gen_api, owner, image["id"])
        assert uses["useCount"] == 1 and uses["lastUsedAt"] is not None
        [edge] = uses["uses"]["edges"]
        assert edge["node"] == {
            "generationId": result["id"],
            "provider": "OPENAI_COMPATIBLE",
            "host": "127.0.0.1",
            "model": "openai/gpt-image-2",
            "outcome": "SUCCEEDED",
            "usedAt": uses["lastUsedAt"],
        }
        assert uses["uses"]["pageInfo"] == {"hasNextPage": False, "endCursor": edge["cursor"]}
    pool = {i["id"]: i for i in (await gen_api.gql(POOL, user=owner))["meImages"]}
    assert pool[unsent["id"]] == {"id": unsent["id"], "useCount": 0, "lastUsedAt": None}
    assert pool[first["id"]]["useCount"] == 1

    recipients = (await gen_api.gql(RECIPIENTS, user=owner))["profile"]["recipients"]
    assert [(r["provider"], r["host"], r["uses"], r["images"]) for r in recipients] == [
        ("OPENAI_COMPATIBLE", "127.0.0.1", 2, 2)
    ]


async def test_a_failed_send_is_recorded_and_a_refusal_is_not(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 311)
    not_opted = await add_reference(gen_api, owner, 312, opt_in=False)
    await grant(gen_api, owner, 50)

    refused = await generate(gen_api, owner, [ref["id"], not_opted["id"]])
    assert refused["__typename"] == "ReferenceNotUsableError"
    assert provider.requests == [] and await ledger_rows(gen_api, owner) == []

    provider.mode = Mode.ERROR_500
    failed = await generate(gen_api, owner, [ref["id"]])
    assert failed["__typename"] == "ProviderFailedError"
    assert len(provider.requests) == 1
    [row] = await ledger_rows(gen_api, owner)
    assert (row.image_id, row.generation_id, row.outcome) == (
        ref["id"],
        failed["generationId"],
        "failed",
    )
    uses = await _uses(gen_api, owner, ref["id"])
    assert uses["useCount"] == 1
    assert uses["uses"]["edges"][0]["node"]["outcome"] == "FAILED"


async def test_gemini_calls_per_image_still_make_one_row_per_reference(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 321)
    await grant(gen_api, owner, 50)
    result = await generate(gen_api, owner, [ref["id"]], model="google/gemini-2.5-flash-image", n=2)
    assert result["__typename"] == "Generation", result
    assert len(provider.requests) == 2  # Gemini answers one image per call
    [row] = await ledger_rows(gen_api, owner)
    assert (row.provider, row.host, row.model) == (
        "gemini",
        "127.0.0.1",
        "google/gemini-2.5-flash-image",
    )


async def test_a_replay_with_the_same_key_records_nothing_more(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 331)
    await grant(gen_api, owner, 50)
    key = str(uuid.uuid4())
    mutation = (
        "mutation($input: GenerationInput!, $key: String) { generateWithReference("
        "input: $input, idempotencyKey: $key) { __typename ... on Generation { id } } }"
    )
    variables = {"input": {"prompt": "me", "referenceImageIds": [ref["id"]]}, "key": key}
    answers = [await gen_api.gql(mutation, variables, user=owner) for _ in range(3)]
    assert len({a["generateWithReference"]["id"] for a in answers}) == 1
    assert len(provider.requests) == 1
    assert len(await ledger_rows(gen_api, owner)) == 1


async def test_uses_page_newest_first_and_refuse_a_foreign_cursor(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 341)
    await grant(gen_api, owner, 100)
    made = [(await generate(gen_api, owner, [ref["id"]]))["id"] for _ in range(3)]
    seen: list[str] = []
    after: str | None = None
    for _ in range(5):  # bounded: three pages of one
        page = (await _uses(gen_api, owner, ref["id"], first=1, after=after))["uses"]
        seen += [e["node"]["generationId"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert seen == list(reversed(made))

    for bad in ("not-a-cursor", "!!!"):
        response = await gen_api.post(USES, {"id": ref["id"], "first": 1, "after": bad}, user=owner)
        assert response.status_code == 200
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "INVALID_INPUT"
        assert "Traceback" not in response.text
    response = await gen_api.post(USES, {"id": ref["id"], "first": 0}, user=owner)
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_the_ledger_outlives_the_image_until_the_owner_is_purged(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 351)
    await grant(gen_api, owner, 50)
    result = await generate(gen_api, owner, [ref["id"]])
    assert result["__typename"] == "Generation"
    await gen_api.gql(
        "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }",
        {"id": ref["id"]},
        user=owner,
    )
    # Gone from the pool, still on record: where the face went does not change by deleting.
    assert (await gen_api.gql(POOL, user=owner))["meImages"] == []
    recipients = (await gen_api.gql(RECIPIENTS, user=owner))["profile"]["recipients"]
    assert [(r["uses"], r["images"]) for r in recipients] == [(1, 1)]
    assert [r.image_id for r in await ledger_rows(gen_api, owner)] == [ref["id"]]

    report = await purge_owner(gen_api.stores, owner)
    assert report.data_keys_destroyed
    assert await ledger_rows(gen_api, owner) == []
    assert await generation_rows(gen_api, owner) == 0
    assert (await gen_api.gql(RECIPIENTS, user=owner))["profile"]["recipients"] == []


async def test_another_owner_or_space_never_sees_the_uses(
    gen_api: Api, owner: str, other_owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 361)
    await grant(gen_api, owner, 50)
    assert (await generate(gen_api, owner, [ref["id"]]))["__typename"] == "Generation"
    assert (await _uses(gen_api, owner, ref["id"]))["useCount"] == 1

    for user, space in ((other_owner, None), (owner, "club")):
        seen = await gen_api.gql(USES, {"id": ref["id"], "first": 5}, user=user, space=space)
        assert seen == {"meImage": None}
        recipients = await gen_api.gql(RECIPIENTS, user=user, space=space)
        assert recipients["profile"]["recipients"] == []
    # The other owner's own sends are theirs alone.
    theirs = await add_reference(gen_api, other_owner, 362)
    await grant(gen_api, other_owner, 50)
    assert (await generate(gen_api, other_owner, [theirs["id"]]))["__typename"] == "Generation"
    mine = (await gen_api.gql(RECIPIENTS, user=owner))["profile"]["recipients"]
    assert [(r["uses"], r["images"]) for r in mine] == [(1, 1)]
    assert {r.image_id for r in await ledger_rows(gen_api, owner)} == {ref["id"]}


async def test_a_list_of_images_reads_the_ledger_once(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    """Use counts of a whole pool come from one query, not one per image, and then from
    the pool's snapshot until the owner's data changes."""
    refs = [await add_reference(gen_api, owner, seed) for seed in range(371, 377)]
    await grant(gen_api, owner, 50)
    assert (await generate(gen_api, owner, [refs[0]["id"]]))["__typename"] == "Generation"
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM reference_use" in statement:
            reads.append(statement)

    engine = gen_api.stores.db.engine.sync_engine
    gen_api.stores.caches.pool_snapshots.clear()
    event.listen(engine, "before_cursor_execute", count)
    try:
        pool = await gen_api.gql(POOL, user=owner)
        assert len(reads) == 1, reads
        again = await gen_api.gql(POOL + " ", user=owner)  # not the cached answer
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sorted(i["useCount"] for i in pool["meImages"]) == [0, 0, 0, 0, 0, 1]
    assert again == pool
    assert len(reads) == 1, reads


async def test_the_export_reads_every_use_of_every_space_oldest_first(
    gen_api: Api, owner: str, other_owner: str, provider: ProviderServer
) -> None:
    personal = await add_reference(gen_api, owner, 381)
    club = await add_reference(gen_api, owner, 382, space="club")
    theirs = await add_reference(gen_api, other_owner, 383)
    await grant(gen_api, owner, 50)
    await grant(gen_api, other_owner, 50)
    made = [
        await generate(gen_api, owner, [personal["id"]]),
        await generate(gen_api, owner, [club["id"]], space="club"),
        await generate(gen_api, other_owner, [theirs["id"]]),
    ]
    assert all(m["__typename"] == "Generation" for m in made)
    uses = await all_uses(gen_api.stores, owner)
    assert [(u.space_id, u.image_id, u.generation_id) for u in uses] == [
        ("personal", personal["id"], made[0]["id"]),
        ("club", club["id"], made[1]["id"]),
    ]


WRITES = {
    "setPrimary": "mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF)"
    " { ... on MeImage { useCount lastUsedAt } } }",
    "setAiReferenceEnabled": "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: false)"
    " { ... on MeImage { useCount lastUsedAt } } }",
    "updateMeImage": 'mutation($id: ID!) { updateMeImage(id: $id, input: {label: "new"})'
    " { ... on MeImage { useCount lastUsedAt } } }",
}


async def test_writes_answer_with_the_images_ledger_totals(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    # The writers read an image's totals in the same query as the image itself.
    sent = await add_reference(gen_api, owner, 331)
    unsent = await add_reference(gen_api, owner, 332)
    await grant(gen_api, owner, 50)
    for _ in range(2):
        assert (await generate(gen_api, owner, [sent["id"]]))["status"] == "SUCCEEDED"
    read = await _uses(gen_api, owner, sent["id"])
    assert read["useCount"] == 2
    for name, document in WRITES.items():
        for image, totals in ((sent, (2, read["lastUsedAt"])), (unsent, (0, None))):
            answer = (await gen_api.gql(document, {"id": image["id"]}, user=owner))[name]
            assert (answer["useCount"], answer["lastUsedAt"]) == totals, name
