"""Two apps on one database, for comparing answers: the compiled plans on (as served), and
graphql-core for every operation (both switches off)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from api.settings import Settings
from api.views.graphql import MeImagesGraphQL
from tests.support.app import Api, running_api
from tests.support.databases import database_url

SWITCHED_OFF = {"MEIMAGES_COMPILED_READS": "false", "MEIMAGES_COMPILED_MUTATIONS": "false"}


def graphql_view(api: Api) -> MeImagesGraphQL:
    """The view itself: at /graphql it sits behind the request rate and persisted queries."""
    view = api.app.state.graphql_view
    assert isinstance(view, MeImagesGraphQL)
    return view


@asynccontextmanager
async def both_paths(
    backend: str, tmp: Path, pg_database: str, **settings: Any
) -> AsyncIterator[tuple[Api, Api]]:
    """The app with its compiled plans, and a second one on the same database started with
    `SWITCHED_OFF`, the switches an operator has. No result cache: both paths must run
    every request. The URL signers' clocks are pinned (a signed URL carries an expiry
    step), so both sign alike; the signers made per request origin take it over."""
    on = Settings(
        data_dir=tmp,
        database_url=database_url(backend, tmp, pg_database),
        query_cache_entries=0,
        **settings,
    )
    off = Settings.from_env(
        SWITCHED_OFF,
        data_dir=on.data_dir,
        database_url=on.database_url,
        query_cache_entries=0,
        **settings,
    )
    async with running_api(on, backend) as api, running_api(off, backend) as plain:
        compiled = graphql_view(api).compiled
        assert compiled is not None and compiled.queries and compiled.mutations
        assert graphql_view(plain).compiled is None
        pinned = time.time()
        for urls in (graphql_view(api).urls, graphql_view(plain).urls):
            urls.clock = lambda: pinned
        yield api, plain
