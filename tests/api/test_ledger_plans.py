"""The usage ledger grows with every generation, and every write to an image and every
pool read ask it for totals: those statements must read one index, never the table, so
their cost follows an image's uses at most, not the ledger's size."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from testbed.images import jpeg
from tests.support.app import Api

INDEX = "ix_reference_use_owner_space_image"
SET_PRIMARY = "mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF) { __typename } }"
POOL = "{ meImages { id useCount lastUsedAt } }"


async def test_ledger_totals_are_read_from_their_index(api: Api, owner: str) -> None:
    image = await api.upload(jpeg(401, size=(48, 48)), user=owner)
    asked: list[tuple[str, Any]] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "reference_use" in statement:
            asked.append((statement, params))

    engine = api.stores.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        await api.gql(SET_PRIMARY, {"id": image["id"]}, user=owner)
        await api.gql(POOL, user=owner)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    # The swap's read of the image (its totals beside it), and the pool's totals.
    assert len(asked) == 2
    async with api.stores.db.engine.connect() as conn:
        for statement, params in asked:
            if api.backend == "sqlite":
                plan = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
                steps = [str(row[3]) for row in plan]
                ledger = [s for s in steps if "reference_use" in s]
                assert ledger and all(f"USING COVERING INDEX {INDEX}" in s for s in ledger), steps
            else:
                # Tables this small are scanned whatever the indexes: ask what an index
                # allows. Which of the ledger's indexes on (owner, space, …) the planner
                # takes for an empty table is a tie it breaks either way; the covering one
                # is checked on SQLite above, where the choice follows the columns.
                await conn.exec_driver_sql("SET enable_seqscan = off")
                plan = await conn.exec_driver_sql(f"EXPLAIN {statement}", params)
                lines = [str(row[0]) for row in plan]
                text = "\n".join(lines)
                ledger = [line for line in lines if " on reference_use" in line]
                assert ledger, text
                assert all("Index" in line and "Scan" in line for line in ledger), text
                assert "Seq Scan on reference_use" not in text, text
