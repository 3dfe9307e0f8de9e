"""A generation whose server died mid-call may have sent its references: the sweeper that
fails it records them as INTERRUPTED uses, once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from resolvers.generation.sweeper import release_interrupted
from storage.tables import GenerationRecord, utcnow
from tests.consent.conftest import ledger_rows
from tests.generation.conftest import add_reference, grant
from tests.generation.test_sweeper import pending_hold
from tests.support.app import Api


async def test_the_sweeper_records_a_died_call_as_interrupted_uses(
    gen_api: Api, owner: str
) -> None:
    stores = gen_api.stores
    refs = [await add_reference(gen_api, owner, seed) for seed in (601, 602)]
    await grant(gen_api, owner, 100)
    stale = utcnow() - timedelta(hours=1)
    generation_id = await pending_hold(stores, owner, held=25, heartbeat=stale)
    async with stores.db.transaction() as session:
        await session.execute(
            update(GenerationRecord)
            .where(GenerationRecord.id == generation_id)  # type: ignore[arg-type]
            .values(reference_ids=[r["id"] for r in refs])
        )
    for _ in range(2):  # a second round (another instance) finds nothing left to do
        await release_interrupted(stores)
    rows = await ledger_rows(gen_api, owner)
    assert sorted(r.image_id for r in rows) == sorted(r["id"] for r in refs)
    assert {(r.generation_id, r.outcome, r.provider, r.model) for r in rows} == {
        (generation_id, "interrupted", "openai-compatible", "openai/gpt-image-2")
    }
    uses = await gen_api.gql(
        "query($id: ID!) { meImage(id: $id) { useCount uses(first: 1) { edges { node { "
        "outcome } } } } }",
        {"id": refs[0]["id"]},
        user=owner,
    )
    assert uses["meImage"]["useCount"] == 1
    assert uses["meImage"]["uses"]["edges"][0]["node"]["outcome"] == "INTERRUPTED"
