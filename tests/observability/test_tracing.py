"""Traces: one request is one trace with the server, operation, database and provider spans;
off unless the OTEL_* environment asks."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from opentelemetry.trace import SpanKind

from api.observability import tracing
from api.settings import ConfigError
from testbed.graphql import PREFLIGHT, upload_form
from testbed.images import jpeg
from tests.observability.conftest import in_process_server, in_process_settings
from tests.support.provider_server import ProviderServer

GENERATE = """
mutation Generate($input: GenerationInput!) {
  generateWithReference(input: $input) { __typename ... on Generation { id status cost } }
}"""


async def _reference(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> str:
    upload = await http.post(
        f"{url}/graphql", headers={**headers, **PREFLIGHT}, **upload_form(jpeg(7))
    )
    image_id: str = upload.json()["data"]["uploadMeImage"]["id"]
    opt_in = await http.post(
        f"{url}/graphql",
        headers=headers,
        json={
            "query": "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }",
            "variables": {"id": image_id},
        },
    )
    assert opt_in.json()["data"]["setAiReferenceEnabled"]["__typename"] == "MeImage"
    return image_id


async def test_one_generation_request_is_one_trace_with_operation_database_and_provider_spans(
    tmp_path: Path, provider_server: ProviderServer
) -> None:
    provider_server.reset()
    async with in_process_server(in_process_settings(tmp_path, provider_server)) as server:
        async with httpx.AsyncClient(timeout=60) as http:
            headers = server.headers("tracer")
            reference = await _reference(http, server.url, headers)
            before = {span.context.span_id for span in server.spans()}
            response = await http.post(
                f"{server.url}/graphql",
                headers={**headers, "X-Request-Id": "trace-me-1"},
                json={
                    "query": GENERATE,
                    "operationName": "Generate",
                    "variables": {
                        "input": {"prompt": "a portrait", "referenceImageIds": [reference]}
                    },
                },
            )
        assert response.json()["data"]["generateWithReference"]["__typename"] == "Generation"
        assert response.headers["x-request-id"] == "trace-me-1"
        root = await server.server_span("trace-me-1")  # it ends last: the others are in
        new = [span for span in server.spans() if span.context.span_id not in before]

    servers = [
        s for s in new if s.kind is SpanKind.SERVER and (s.attributes or {}).get("http.method")
    ]
    assert servers == [root], [s.name for s in new]
    trace_id = root.context.trace_id
    mine = [s for s in new if s.context.trace_id == trace_id]
    names = [s.name for s in mine]
    operation = [s for s in mine if s.name == "GraphQL Generate"]
    assert len(operation) == 1, names
    assert (operation[0].attributes or {})["graphql.operation.type"] == "mutation"
    assert any(s.name == "GraphQL Parsing" for s in mine), names
    database = [s for s in mine if "db.system" in (s.attributes or {})]
    assert database, names
    provider_calls = [
        s
        for s in mine
        if s.kind is SpanKind.CLIENT
        and str((s.attributes or {}).get("http.url", "")).startswith(provider_server.url)
    ]
    assert len(provider_calls) == 1, names
    # Every span of the request hangs off the server span: one tree, not loose spans. (The
    # server span itself may have a parent: this test's own httpx call, traced too.)
    by_id = {s.context.span_id: s for s in mine}
    for span in mine:
        if root.parent is not None and span.context.span_id == root.parent.span_id:
            continue
        node = span
        for _ in range(len(mine)):
            if node is root or node.parent is None or node.parent.span_id not in by_id:
                break
            node = by_id[node.parent.span_id]
        assert node is root, span.name


async def test_traced_queries_and_mutations_keep_their_operation_spans(
    tmp_path: Path, provider_server: ProviderServer
) -> None:
    """With tracing on, graphql-core runs every operation (the compiled plans would leave
    out the operation, parsing and validation spans): a read and a write of one root field,
    both of which plans answer without tracing, each have their operation span."""
    async with in_process_server(in_process_settings(tmp_path, provider_server)) as server:
        async with httpx.AsyncClient(timeout=60) as http:
            headers = server.headers("tracer")
            await _reference(http, server.url, headers)
            for query in (
                "query List { meImages { id } }",
                "mutation Flip { setAiUsesReferenceImages(enabled: true) { ownerId } }",
            ):
                response = await http.post(
                    f"{server.url}/graphql", headers=headers, json={"query": query}
                )
                assert "errors" not in response.json(), response.json()
        spans = {s.name: s for s in server.spans()}
    assert (spans["GraphQL List"].attributes or {})["graphql.operation.type"] == "query"
    assert (spans["GraphQL Flip"].attributes or {})["graphql.operation.type"] == "mutation"


def test_tracing_is_off_unless_the_otel_environment_asks() -> None:
    assert not tracing.wanted({})
    assert tracing.provider_from_env({"OTEL_SERVICE_NAME": "x"}) is None
    assert not tracing.wanted(
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}
    )
    assert not tracing.wanted({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    provider = tracing.provider_from_env({"OTEL_TRACES_EXPORTER": "console"})
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "meimages"
    provider.shutdown()
    for wrong in (
        {"OTEL_TRACES_EXPORTER": "zipkin"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
    ):
        with pytest.raises(ConfigError, match="OTEL_"):
            tracing.provider_from_env(wrong)
