"""Fixtures of consent: the generation app and provider test server of tests/generation,
a clock the tests move by hand, and readers of the ledger and the event log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlmodel import col

from api.settings import Settings
from storage.tables import GenerationRecord, MeImageEvent, ReferenceUse
from tests.generation import conftest as generation
from tests.support.app import Api, running_api
from tests.support.databases import BACKENDS, database_url
from tests.support.provider_server import GEMINI_KEY, OPENAI_KEY, ProviderServer

TOGGLED = "MeImageAiReferenceToggled"

# The app pointed at the provider test server as tests/generation has it (the server's
# fixtures are shared by every folder, in tests/conftest.py).
gen_api = generation.gen_api


class HandClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


@pytest.fixture
def clock(gen_api: Api) -> Iterator[HandClock]:
    """The running app's clock, replaced by one the test moves."""
    stores = gen_api.stores
    real = stores.clock
    hand = HandClock(datetime.now(UTC))
    stores.clock = hand
    try:
        yield hand
    finally:
        stores.clock = real


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=BACKENDS)
async def gemini_only_api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_database: str,
    provider_server: ProviderServer,
) -> AsyncIterator[Api]:
    """Both providers configured, but the operator allows only Gemini, as an operator
    would say it: through the environment."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"consent-{backend}")
    settings = Settings.from_env(
        {
            "MEIMAGES_DATA_DIR": str(tmp),
            "MEIMAGES_DATABASE_URL": database_url(backend, tmp, pg_database),
            "MEIMAGES_OPENAI_API_KEY": OPENAI_KEY,
            "MEIMAGES_OPENAI_BASE_URL": provider_server.url,
            "MEIMAGES_GEMINI_API_KEY": GEMINI_KEY,
            "MEIMAGES_GEMINI_BASE_URL": provider_server.url + "/v1beta",
            "MEIMAGES_ALLOWED_PROVIDERS": "Gemini",
        }
    )
    async with running_api(settings, backend) as running:
        yield running


async def ledger_rows(api: Api, owner: str) -> list[ReferenceUse]:
    """The owner's usage ledger, read straight from the database."""
    async with api.stores.db.session() as session:
        query = (
            select(ReferenceUse)
            .where(col(ReferenceUse.owner_id) == owner)
            .order_by(col(ReferenceUse.used_at), col(ReferenceUse.image_id))
        )
        return list((await session.execute(query)).scalars().all())


async def toggles(api: Api, owner: str) -> list[dict[str, Any]]:
    """The payloads of the owner's AI_REFERENCE_TOGGLED events, oldest first."""
    async with api.stores.db.session() as session:
        query = (
            select(MeImageEvent)
            .where(col(MeImageEvent.owner_id) == owner, col(MeImageEvent.type) == TOGGLED)
            .order_by(col(MeImageEvent.seq))
        )
        rows = (await session.execute(query)).scalars().all()
        return [{"image": r.image_id, **r.payload} for r in rows]


async def generation_rows(api: Api, owner: str) -> int:
    async with api.stores.db.session() as session:
        query = select(func.count()).where(col(GenerationRecord.owner_id) == owner)
        return int((await session.execute(query)).scalar_one())
