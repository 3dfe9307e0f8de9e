"""The S3 endpoint becomes unreachable and comes back: uploads fail with a typed,
retryable error and leave nothing half-written, media answers 503 (never 500), a
generation whose outputs cannot be stored returns them inline, reads of the pool keep
working — and afterwards everything works again without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest_asyncio

from testbed.graphql import bearer, upload_form
from testbed.images import jpeg
from testbed.server import LiveServer, start_server
from tests.crash.backends import Blobs, SqliteLocal, violations
from tests.generation.conftest import GENERATE, OPENAI_KEY
from tests.resilience.load import IMAGE, graphql_outcome, media_outcome
from tests.resilience.switch import Switch
from tests.support.provider_server import ProviderServer
from tests.support.s3 import S3_PREFIX, S3Server

UPLOAD_REST = "/api/v1/profile/me-images/upload"
RECOVERY_POLLS = 300  # 0.2 s apart: a safety net, not a verdict


class SqliteS3(SqliteLocal):
    """The crash test's reader: the SQLite file here, the blobs in a bucket."""

    def __init__(self, data_dir: Path, s3: S3Server, bucket: str) -> None:
        super().__init__(data_dir)
        self.client, self.bucket = s3.client(), bucket

    def blobs(self) -> Blobs:
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=f"{S3_PREFIX}/")
        assert not listing.get("IsTruncated")
        return Blobs({o["Key"].removeprefix(f"{S3_PREFIX}/") for o in listing.get("Contents", [])})


@pytest_asyncio.fixture
async def switch(s3: S3Server) -> AsyncIterator[Switch]:
    target = urlsplit(s3.endpoint)
    assert target.hostname and target.port
    switch = Switch(target.hostname, target.port)
    await switch.on()
    yield switch
    await switch.off()


async def graphql(
    http: httpx.AsyncClient, server: LiveServer, owner: str, query: str, **variables: Any
) -> httpx.Response:
    return await http.post(
        server.graphql_url,
        json={"query": query, "variables": variables},
        headers=server.headers(owner),
    )


async def upload(
    http: httpx.AsyncClient, server: LiveServer, owner: str, seed: int
) -> httpx.Response:
    form = upload_form(jpeg(seed), fields=IMAGE)
    headers = bearer(server.token(owner), preflight=True)
    return await http.post(server.graphql_url, headers=headers, **form)


async def test_blob_store_outage(
    s3: S3Server, switch: Switch, provider_server: ProviderServer, tmp_path: Path
) -> None:
    provider_server.reset()
    bucket = s3.new_bucket("outage")
    settings = {
        **S3Server(switch.endpoint).blob_env(bucket),
        "MEIMAGES_OPENAI_API_KEY": OPENAI_KEY,
        "MEIMAGES_OPENAI_BASE_URL": provider_server.url,
        "MEIMAGES_INITIAL_CREDITS": "100",
    }
    server = start_server(tmp_path, settings)
    owner = "owner-outage"
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            first = (await upload(http, server, owner, 1)).json()["data"]["uploadMeImage"]
            toggled = await graphql(
                http,
                server,
                owner,
                "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true)"
                " { __typename } }",
                id=first["id"],
            )
            assert graphql_outcome(toggled) == "ok"
            media_url = first["publicUrl"]
            assert media_outcome(await http.get(media_url)) == "ok"

            # A generation whose provider answered while the store went away: the images
            # come back inline instead of being lost.
            provider_server.hold()
            generation = asyncio.create_task(
                graphql(
                    http,
                    server,
                    owner,
                    GENERATE,
                    input={"prompt": "me on a bicycle", "referenceImageIds": [first["id"]]},
                )
            )
            await provider_server.wait_until_held()
            await switch.off()
            provider_server.release()
            made = (await generation).json()["data"]["generateWithReference"]
            assert made["__typename"] == "Generation", made
            assert made["status"] == "SUCCEEDED" and made["warning"], made
            assert all(i["base64"] and i["mediaId"] is None for i in made["images"]), made

            # While it is down: typed refusals, no 500, nothing half-written.
            refused = await upload(http, server, owner, 2)
            assert graphql_outcome(refused) == "unavailable:SERVICE_UNAVAILABLE", refused.text
            rest = await http.post(
                server.url + UPLOAD_REST,
                headers=bearer(server.token(owner), preflight=True),
                files={"file": ("p.jpg", jpeg(3), "image/jpeg")},
            )
            assert rest.status_code == 503 and rest.headers["retry-after"], rest.text
            assert rest.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
            assert media_outcome(await http.get(media_url)) == "unavailable:SERVICE_UNAVAILABLE"
            listed = await graphql(http, server, owner, "{ meImages { id } }")
            assert graphql_outcome(listed) == "ok"
            assert [i["id"] for i in listed.json()["data"]["meImages"]] == [first["id"]]

            await switch.on()
            for _ in range(RECOVERY_POLLS):
                again = await upload(http, server, owner, 4)
                if graphql_outcome(again) == "ok":
                    break
                await asyncio.sleep(0.2)
            assert graphql_outcome(again) == "ok", again.text
            assert media_outcome(await http.get(media_url)) == "ok"
            listed = await graphql(http, server, owner, "{ meImages { id } }")
            assert len(listed.json()["data"]["meImages"]) == 2
        assert server.alive(), server.log_tail()
    finally:
        server.stop()
    backend = SqliteS3(tmp_path, s3, bucket)
    assert violations(await backend.db_state(), backend.blobs()) == []
