"""The database itself refuses a second charge of one generation, whatever the code
around it does (the ledger's unique generation id)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.tables import CreditEntry, utcnow
from tests.generation.conftest import add_reference, balance, generate, grant
from tests.support.app import Api
from tests.support.provider_server import ProviderServer


async def test_a_second_charge_row_is_refused_by_the_database(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 61)
    await grant(gen_api, owner, 10)
    result = await generate(gen_api, owner, [ref["id"]])
    assert result["__typename"] == "Generation", result
    charged = await balance(gen_api, owner)
    assert charged == 10 - result["cost"] and result["cost"] > 0
    db = gen_api.stores.db
    async with db.session() as session:
        (charge,) = (
            await session.scalars(
                select(CreditEntry).where(
                    CreditEntry.owner_id == owner,
                    CreditEntry.generation_id.is_not(None),  # type: ignore[union-attr]
                )
            )
        ).all()
    # Bypassing the resolvers: the same generation charged again is refused, and the
    # transaction that tried leaves nothing behind.
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            session.add(
                CreditEntry(
                    owner_id=owner,
                    delta=charge.delta,
                    reason=charge.reason,
                    generation_id=charge.generation_id,
                    created_at=utcnow(),
                )
            )
    assert await balance(gen_api, owner) == charged
