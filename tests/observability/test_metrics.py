"""`/metrics` of a live server, parsed with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from api.observability.metrics import Metrics
from testbed.graphql import PREFLIGHT, upload_form
from testbed.images import jpeg
from testbed.server import LiveServer, deployment_secrets, start_server
from tests.observability.conftest import METRICS_TOKEN, OPENAI_KEY, Samples, scrape
from tests.support.databases import BACKENDS, throwaway_database
from tests.support.provider_server import Mode, ProviderServer

# Bounded waits on observed state (a gauge going back to 0 after a close), never verdicts.
POLLS = 200
POLL_S = 0.05
LIST = "query ListImages { meImages { id label } }"
EVENTS = "subscription Follow { meImageEvents { __typename } }"


@pytest.fixture(params=BACKENDS)
async def server(
    request: pytest.FixtureRequest, tmp_path: Path, provider_server: ProviderServer
) -> AsyncIterator[LiveServer]:
    async with throwaway_database(request.param, tmp_path) as url:
        live = start_server(
            tmp_path / "data",
            {
                **deployment_secrets(),
                "MEIMAGES_DATABASE_URL": url,
                "MEIMAGES_METRICS_TOKEN": METRICS_TOKEN,
                "MEIMAGES_OPENAI_API_KEY": OPENAI_KEY,
                "MEIMAGES_OPENAI_BASE_URL": provider_server.url,
                "MEIMAGES_INITIAL_CREDITS": "100",
            },
        )
        try:
            yield live
        finally:
            live.stop()


async def _post(
    http: httpx.AsyncClient, server: LiveServer, query: str, user: str = "ada", **extra: object
) -> dict:  # type: ignore[type-arg]
    response = await http.post(
        server.graphql_url, headers=server.headers(user), json={"query": query, **extra}
    )
    body: dict = response.json()  # type: ignore[type-arg]
    return body


async def _wait_for(
    http: httpx.AsyncClient, server: LiveServer, name: str, value: float
) -> Samples:
    for _ in range(POLLS):
        samples = await scrape(http, server.url)
        if samples.get(name) == value:
            return samples
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"{name} never became {value}: {samples.get(name)}")


async def test_metrics_need_the_metrics_token(server: LiveServer, http: httpx.AsyncClient) -> None:
    assert (await http.get(f"{server.url}/metrics")).status_code == 401
    wrong = await http.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    # A user's token is not the metrics token.
    assert (
        await http.get(f"{server.url}/metrics", headers=server.headers("ada"))
    ).status_code == 401


async def test_requests_operations_errors_uploads_and_cache_are_counted(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    headers = server.headers("ada")
    upload = await http.post(
        server.graphql_url, headers={**headers, **PREFLIGHT}, **upload_form(jpeg(3))
    )
    image = upload.json()["data"]["uploadMeImage"]
    size = len(jpeg(3))
    refused = await http.post(
        server.graphql_url, headers={**headers, **PREFLIGHT}, **upload_form(b"not an image" * 50)
    )
    assert refused.json()["data"]["uploadMeImage"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    for _ in range(3):  # one miss, then hits
        assert "errors" not in await _post(http, server, LIST, operationName="ListImages")
    assert "errors" in await _post(http, server, "query Broken { nope }")
    missing = await _post(
        http, server, 'mutation Gone { deleteMeImage(id: "no-such-id") { __typename } }'
    )
    assert "errors" not in missing, missing
    # A compiled mutation whose field below fails: graphql-core answers from its outcome.
    odd = await _post(
        http,
        server,
        "mutation Odd($id: ID!) { setPrimary(id: $id, slot: AVATAR)"
        " { ... on MeImage { transformUrl(width: 0) } } }",
        variables={"id": image["id"]},
    )
    assert odd["errors"][0]["extensions"]["code"] == "INVALID_INPUT", odd
    media = await http.get(image["publicUrl"])
    assert media.status_code == 200

    m = await scrape(http, server.url)
    assert m.get("meimages_http_requests_total", route="/graphql", method="POST", status="200") >= 6
    # Route templates, never raw paths (which hold ids).
    media_routes = m.label_values("meimages_http_requests_total", "route")
    assert any(route.startswith("/media/{") for route in media_routes), media_routes
    assert not any(image["mediaId"] in route for route in media_routes)
    assert m.get("meimages_graphql_operations_total", operation="ListImages", type="query") == 1
    assert m.get("meimages_graphql_operations_total", operation="Broken", outcome="refused") == 1
    assert m.get("meimages_graphql_operation_duration_seconds_count", operation="Broken") == 1
    # Mutations, answered by their plan or replayed through graphql-core: counted once each.
    assert m.get("meimages_graphql_operations_total", operation="Gone", type="mutation") == 1
    assert m.get("meimages_graphql_operations_total", operation="Gone", outcome="ok") == 1
    assert m.get("meimages_graphql_operations_total", operation="Odd", type="mutation") == 1
    # Counted by the code answered (a domain error raised by a field below), as an error
    # of a run operation, not a refusal.
    assert m.get("meimages_graphql_operations_total", operation="Odd", outcome="error") == 1
    assert m.get("meimages_graphql_errors_total", code="INVALID_INPUT") == 1
    assert m.get("meimages_graphql_operation_duration_seconds_count", operation="Odd") == 1
    assert m.get("meimages_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1
    assert m.get("meimages_graphql_errors_total", code="NOT_FOUND") == 1
    assert m.get("meimages_graphql_errors_total", code="UNSUPPORTED_MEDIA_TYPE") == 1
    assert m.get("meimages_query_cache_lookups_total", result="miss") >= 1
    assert m.get("meimages_query_cache_lookups_total", result="hit") >= 2
    assert m.get("meimages_uploads_total") == 1
    assert m.get("meimages_upload_bytes_total") == size
    assert m.get("meimages_upload_rejections_total", reason="unsupported_media_type") == 1
    # `get` answers 0 for a sample that is missing: the gauge must be there to count.
    assert {"meimages_db_pool_connections_open", "meimages_db_pool_connections_in_use"} <= {
        name for name, _labels in m.values
    }
    opened = m.get("meimages_db_pool_connections_open")
    assert opened >= 1
    assert 0 <= m.get("meimages_db_pool_connections_in_use") <= opened


async def test_uploads_refused_while_streaming_in_count_as_too_large(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    limit = 50_000
    settings = {
        **deployment_secrets(),
        "MEIMAGES_METRICS_TOKEN": METRICS_TOKEN,
        "MEIMAGES_MAX_UPLOAD_BYTES": str(limit),
    }
    server = start_server(tmp_path, settings)
    try:
        # Beyond the limit plus the multipart allowance: refused before the rules see it.
        huge = b"\xff\xd8" + bytes(limit + 300 * 1024)
        headers = {**server.headers("big"), **PREFLIGHT}
        refused = await http.post(server.graphql_url, headers=headers, **upload_form(huge))
        assert refused.status_code == 413, refused.text
        # Within the body limit, over the file limit: refused by the upload rule itself.
        typed = await http.post(
            server.graphql_url, headers=headers, **upload_form(b"\xff\xd8" + bytes(limit + 10))
        )
        assert typed.json()["data"]["uploadMeImage"]["code"] == "TOO_LARGE", typed.text
        m = await scrape(http, server.url)
    finally:
        server.stop()
    assert m.get("meimages_upload_rejections_total", reason="too_large") == 2
    assert m.get("meimages_http_requests_total", route="/graphql", status="413") == 1
    assert m.get("meimages_uploads_total") == 0


async def test_operation_names_are_capped(server: LiveServer, http: httpx.AsyncClient) -> None:
    for n in range(230):
        await _post(http, server, f"query Named{n} {{ meImages {{ id }} }}")
    m = await scrape(http, server.url)
    names = m.label_values("meimages_graphql_operations_total", "operation")
    assert len(names) <= 201, len(names)
    assert "other" in names
    assert m.get("meimages_graphql_operations_total") == 230


async def test_live_connections_subscriptions_and_deliveries(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    url = server.ws_url
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"token": server.token("ada")}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}}))
        # The subscription is live once it delivered: make an event and wait for it.
        for _ in range(POLLS):
            m = await scrape(http, server.url)
            if m.get("meimages_active_connections", transport="websocket") == 1:
                break
            await asyncio.sleep(POLL_S)
        upload = await http.post(
            server.graphql_url,
            headers={**server.headers("ada"), **PREFLIGHT},
            **upload_form(jpeg(5)),
        )
        assert upload.json()["data"]["uploadMeImage"]["__typename"] == "MeImage"
        async with asyncio.timeout(30):
            message = json.loads(await ws.recv())
        assert message["type"] == "next", message
        m = await scrape(http, server.url)
        assert m.get("meimages_active_connections", transport="websocket") == 1
        assert m.get("meimages_active_subscriptions") == 1
        assert m.get("meimages_events_delivered_total") == 1
        assert (
            m.get("meimages_graphql_operations_total", operation="Follow", type="subscription") == 0
        )
    m = await _wait_for(http, server, "meimages_active_connections", 0)
    assert m.get("meimages_active_subscriptions") == 0
    assert m.get("meimages_graphql_operations_total", operation="Follow", type="subscription") == 1
    assert m.get("meimages_http_requests_total", route="/graphql", method="WS", status="101") == 1


async def test_server_sent_event_streams_are_counted_while_open(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    headers = {**server.headers("sse"), "Accept": "text/event-stream"}
    body = {"query": EVENTS, "operationName": "Follow"}
    async with http.stream("POST", server.graphql_url, headers=headers, json=body) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        upload = await http.post(
            server.graphql_url,
            headers={**server.headers("sse"), **PREFLIGHT},
            **upload_form(jpeg(6)),
        )
        assert upload.json()["data"]["uploadMeImage"]["__typename"] == "MeImage"
        async with asyncio.timeout(30):
            async for line in stream.aiter_lines():
                if line.startswith("data:") and "meImageEvents" in line:
                    break
        m = await scrape(http, server.url)
        assert m.get("meimages_active_connections", transport="sse") == 1
        assert m.get("meimages_active_subscriptions") == 1
        assert m.get("meimages_events_delivered_total") == 1
    m = await _wait_for(http, server, "meimages_active_connections", 0)
    assert m.get("meimages_active_subscriptions") == 0


async def test_generations_count_by_provider_model_and_outcome(
    server: LiveServer, http: httpx.AsyncClient, provider_server: ProviderServer
) -> None:
    provider_server.reset()
    headers = server.headers("gen")
    upload = await http.post(
        server.graphql_url, headers={**headers, **PREFLIGHT}, **upload_form(jpeg(9))
    )
    image_id = upload.json()["data"]["uploadMeImage"]["id"]
    await _post(
        http,
        server,
        'mutation { setAiReferenceEnabled(id: "%s", enabled: true) { __typename } }' % image_id,  # noqa: UP031
        user="gen",
    )
    generate = (
        "mutation($input: GenerationInput!) { generateWithReference(input: $input)"
        " { __typename ... on Generation { cost } } }"
    )
    variables = {"input": {"prompt": "a portrait", "referenceImageIds": [image_id]}}
    done = await _post(http, server, generate, user="gen", variables=variables)
    cost = done["data"]["generateWithReference"]["cost"]
    assert cost > 0, done
    provider_server.mode = Mode.ERROR_500
    failed = await _post(http, server, generate, user="gen", variables=variables)
    assert failed["data"]["generateWithReference"]["__typename"] == "ProviderFailedError", failed
    provider_server.reset()

    m = await scrape(http, server.url)
    model = "openai/gpt-image-2"
    assert (
        m.get("meimages_generations_total", provider="openai", model=model, outcome="succeeded")
        == 1
    )
    assert (
        m.get("meimages_generations_total", provider="openai", model=model, outcome="failed") == 1
    )
    assert m.get("meimages_generation_duration_seconds_count", provider="openai", model=model) == 2
    assert m.get("meimages_credits_charged_total", provider="openai", model=model) == cost
    assert m.get("meimages_graphql_errors_total", code="PROVIDER_FAILED") == 1


async def test_workers_sharing_a_multiprocess_folder_are_scraped_as_one(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    secrets = deployment_secrets()
    settings = {**secrets, "MEIMAGES_METRICS_TOKEN": METRICS_TOKEN}
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder)}
    first = start_server(tmp_path / "one", settings, env=env)
    try:
        second = start_server(tmp_path / "two", settings, env=env)
        try:
            for live in (first, second):
                await _post(http, live, LIST, operationName="ListImages")
            m = await scrape(http, first.url)
        finally:
            second.stop()
        # A process that is gone no longer counts in the live gauges: its files go at
        # the next scrape.
        assert list(folder.glob(f"gauge_live*_{second.pid}.db"))
        await scrape(http, first.url)
        assert not list(folder.glob(f"gauge_live*_{second.pid}.db"))
        assert list(folder.glob(f"gauge_live*_{first.pid}.db"))
    finally:
        first.stop()
    assert m.get("meimages_graphql_operations_total", operation="ListImages") == 2
    # Each process's start-up health check, counted across both.
    assert m.get("meimages_http_requests_total", route="/healthz") >= 2
    # The scraped process's own GC pauses, its start-up full collection among them.
    assert m.get("meimages_gc_pause_seconds_count", generation="2") >= 1


def test_every_garbage_collection_is_timed_by_generation() -> None:
    metrics = Metrics()
    metrics.watch_gc()
    before = {g: _gc_count(metrics, g) for g in range(3)}
    gc.collect(0)
    gc.collect(2)
    gc.collect(2)
    # At least these passes; the interpreter may start young collections of its own.
    assert _gc_count(metrics, 0) >= before[0] + 1
    assert _gc_count(metrics, 2) >= before[2] + 2
    text = metrics.exposition().decode()
    assert 'meimages_gc_pause_seconds_bucket{generation="2",le="1.0"}' in text
    # A server that is gone stops being told: the callback holds no reference to it.
    gone = weakref.ref(metrics)
    del metrics
    gc.collect()
    assert gone() is None


def _gc_count(metrics: Metrics, generation: int) -> float:
    value = metrics.registry.get_sample_value(
        "meimages_gc_pause_seconds_count", {"generation": str(generation)}
    )
    return value or 0.0
