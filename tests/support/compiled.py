"""Two apps on one database, for comparing answers: the compiled plans on (as served), and
graphql-core for every operation (both switches off)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings

from api.settings import Settings
from api.views.graphql import MeImagesGraphQL
from tests.support.app import Api, running_api
from tests.support.databases import database_url

# How generated documents are sent through both paths: the same examples on every run, and
# no shrinking (it re-runs whole requests for minutes; the failing document is printed as is).
GENERATED = settings(
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)

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


@dataclass
class DrawnDocument:
    """What a document being drawn (by Hypothesis) needs besides its text: the fragments
    it defines and the variables it declares."""

    fragments: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)  # name -> type

    def use(self, name: str, type_: str) -> str:
        """Declares the variable and answers its reference (`$name`)."""
        self.variables[name] = type_
        return f"${name}"


def without_request_ids(payload: Any) -> Any:
    """Each request has an id of its own (in its errors' extensions): not part of the answer."""
    if isinstance(payload, dict):
        for error in payload.get("errors") or []:
            (error.get("extensions") or {}).pop("requestId", None)
    return payload
