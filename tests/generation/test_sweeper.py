"""The sweeper: holds of generations whose process died are released and the generations
marked failed - by one sweeper round, not only when the hold lapses (no sleeping)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from api.app import create_app
from api.settings import Settings
from resolvers.generation.credits import GenerationStatus
from resolvers.generation.sweeper import release_interrupted
from resolvers.stores import Stores
from storage import migrate
from storage.tables import GenerationRecord, utcnow
from tests.generation.conftest import (
    add_reference,
    balance,
    generation_config,
    grant,
    history_page,
)
from tests.generation.test_idempotency import GET, charges, generate_keyed
from tests.support.app import Api
from tests.support.provider_server import ProviderServer

# Safety net for the waits below, which end on an observed change long before.
ROUNDS = 3000


async def pending_hold(
    stores: Stores, owner: str, *, held: int, heartbeat: datetime, space: str = "personal"
) -> str:
    """A pending generation as a call that died mid-way leaves it: the hold, no finish."""
    async with stores.db.transaction() as session:
        record = GenerationRecord(
            owner_id=owner,
            space_id=space,
            status=GenerationStatus.PENDING.value,
            prompt_ct=b"",
            model_requested="openai/gpt-image-2",
            quality="high",
            size="auto",
            n=1,
            credits_held=held,
            created_at=utcnow(),
            heartbeat_at=heartbeat,
        )
        record.prompt_ct = await stores.vault.encrypt(
            session,
            owner_id=owner,
            table="generation",
            field="prompt",
            row_id=record.id,
            value="a call that never finished",
        )
        session.add(record)
        return record.id


async def row(stores: Stores, generation_id: str) -> GenerationRecord:
    async with stores.db.session() as session:
        found = await session.get(GenerationRecord, generation_id)
        assert found is not None
        return found


async def finish(stores: Stores, generation_id: str) -> None:
    """Leave nothing pending for later rounds of other tests."""
    async with stores.db.transaction() as session:
        await session.execute(
            update(GenerationRecord)
            .where(GenerationRecord.id == generation_id)  # type: ignore[arg-type]
            .values(status=GenerationStatus.FAILED.value, credits_held=0)
        )


async def test_one_round_releases_a_stale_hold_and_fails_its_generation(
    gen_api: Api, owner: str
) -> None:
    stores = gen_api.stores
    await grant(gen_api, owner, 100)
    now = utcnow()
    stale = await pending_hold(stores, owner, held=25, heartbeat=now - timedelta(hours=1))
    alive = await pending_hold(stores, owner, held=10, heartbeat=now)
    # Both are recent, so neither hold has lapsed: only the sweeper can free the stale one.
    assert await balance(gen_api, owner) == 65

    assert await release_interrupted(stores, now=now) >= 1
    swept = await row(stores, stale)
    assert (swept.status, swept.failure, swept.credits_held) == ("failed", "interrupted", 0)
    assert swept.completed_at is not None
    assert (await row(stores, alive)).status == "pending"
    assert await balance(gen_api, owner) == 90
    assert await charges(gen_api, owner) == []
    shown = await gen_api.gql(GET, {"id": stale}, user=owner)
    assert shown["generation"]["status"] == "FAILED"
    assert shown["generation"]["failure"] == "interrupted"

    # A second round finds nothing of this owner to do.
    before = await row(stores, stale)
    await release_interrupted(stores, now=now)
    assert (await row(stores, stale)).completed_at == before.completed_at
    assert (await row(stores, alive)).status == "pending"
    await finish(stores, alive)


async def test_a_running_generation_is_left_alone_and_a_dead_ones_retry_is_replayed(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    stores = gen_api.stores
    ref = await add_reference(gen_api, owner, 21)
    await grant(gen_api, owner, 100)
    provider.hold()
    call = asyncio.create_task(generate_keyed(gen_api, owner, [ref["id"]], "alive"))
    try:
        await provider.wait_until_held()
        await release_interrupted(stores)
        assert await balance(gen_api, owner) == 90  # still held by the running call
    finally:
        provider.release()
    result = await asyncio.wait_for(call, 60)
    assert result["status"] == "SUCCEEDED" and result["cost"] == 10, result
    assert await charges(gen_api, owner) == [-10]


async def test_a_call_swept_by_mistake_is_not_charged_and_keeps_its_images(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    """A sweeper that wrongly thinks a call is dead (its heartbeats did not get through)
    fails it; the call then returns its images inline and charges nothing."""
    stores = gen_api.stores
    ref = await add_reference(gen_api, owner, 22)
    await grant(gen_api, owner, 100)
    provider.hold()
    call = asyncio.create_task(generate_keyed(gen_api, owner, [ref["id"]], "mistaken"))
    try:
        await provider.wait_until_held()
        later = utcnow() + timedelta(seconds=stores.config.generation.stale_after_s + 1)
        assert await release_interrupted(stores, now=later) >= 1
        assert await balance(gen_api, owner) == 100
    finally:
        provider.release()
    result = await asyncio.wait_for(call, 60)
    assert result["__typename"] == "Generation" and result["cost"] == 0, result
    assert [bool(i["base64"]) for i in result["images"]] == [True]
    assert await charges(gen_api, owner) == []
    assert await balance(gen_api, owner) == 100


async def test_a_running_call_renews_its_heartbeat(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    stores = gen_api.stores
    ref = await add_reference(gen_api, owner, 23)
    await grant(gen_api, owner, 100)
    with generation_config(gen_api, heartbeat_s=0.01):
        provider.hold()
        call = asyncio.create_task(generate_keyed(gen_api, owner, [ref["id"]], "beats"))
        try:
            await provider.wait_until_held()
            polled = await history_page(gen_api, owner, first=1)
            [running] = [edge["node"] for edge in polled["edges"]]
            assert running["status"] == "PENDING"
            first = await row(stores, running["id"])
            for _ in range(ROUNDS):
                now = await row(stores, running["id"])
                if now.heartbeat_at > first.heartbeat_at:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the running call never renewed its heartbeat")
        finally:
            provider.release()
        result = await asyncio.wait_for(call, 60)
    assert result["status"] == "SUCCEEDED", result
    assert (await row(stores, result["id"])).status == "succeeded"


async def test_the_app_starts_the_sweeper_in_its_lifespan(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        generation_sweep_interval_s=3600,
        gc_interval_s=0,
        event_retention_days=0,
    )
    app = create_app(settings)
    stores: Stores = app.state.server.stores
    await migrate.upgrade(stores.db)
    from storage.repositories.owners import OwnerRepository

    async with stores.db.transaction() as session:
        await OwnerRepository(session).ensure("crashed")
    stale = await pending_hold(stores, "crashed", held=25, heartbeat=utcnow() - timedelta(hours=1))
    async with app.router.lifespan_context(app):
        names = {t.get_name() for t in asyncio.all_tasks()}
        assert "generation-sweeper" in names
        # Its first round runs at start: wait for the observed change.
        for _ in range(ROUNDS):
            if (await row(stores, stale)).status == "failed":
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the sweeper did not release the stale hold")
    assert "generation-sweeper" not in {t.get_name() for t in asyncio.all_tasks()}


def test_the_sweep_interval_is_a_setting() -> None:
    env: dict[str, Any] = {"MEIMAGES_GENERATION_SWEEP_INTERVAL": "5"}
    assert Settings.from_env(env).generation_sweep_interval_s == 5.0
    assert Settings.from_env({}).generation_sweep_interval_s == 60.0
