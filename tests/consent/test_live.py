"""A real `meimages serve` and real clients: the ledger as a subscriber sees it, and a
refusal by the operator's allowlist over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from testbed.server import LiveServer, start_server
from tests.consent.conftest import GEMINI_KEY, OPENAI_KEY
from tests.events.conftest import event_cursor, new_owner, set_ai, upload
from tests.support.provider_server import ProviderServer

GENERATE = (
    "mutation($input: GenerationInput!) { generateWithReference(input: $input) { __typename "
    "... on Generation { id } ... on ProviderNotAllowedError { providerKind rule } } }"
)
GEMINI = "google/gemini-2.5-flash-image"
EVENTS = (
    "subscription($after: String) { meImageEvents(after: $after) { __typename "
    "... on MeImageEvent { type expired image { id useCount lastUsedAt } } } }"
)


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, provider_server: ProviderServer
) -> Iterator[LiveServer]:
    """Both providers at the test server; the operator lets images go to OpenAI-compatible
    servers only. Credits to spend from the start."""
    server = start_server(
        tmp_path_factory.mktemp("consent-live"),
        {
            "MEIMAGES_OPENAI_API_KEY": OPENAI_KEY,
            "MEIMAGES_OPENAI_BASE_URL": provider_server.url,
            "MEIMAGES_GEMINI_API_KEY": GEMINI_KEY,
            "MEIMAGES_GEMINI_BASE_URL": provider_server.url + "/v1beta",
            "MEIMAGES_ALLOWED_PROVIDERS": "openai-compatible",
            "MEIMAGES_INITIAL_CREDITS": "100",
        },
    )
    yield server
    server.stop()


async def test_a_subscriber_sees_current_use_counts_and_refusals_send_nothing(
    served: LiveServer, provider: ProviderServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    client = served.graphql(http)
    image = await upload(http, served, 701, user=owner)
    await set_ai(http, served, image["id"], True, user=owner)
    after = await event_cursor(http, served, user=owner)

    refused = await client.gql(
        GENERATE,
        {"input": {"prompt": "me", "referenceImageIds": [image["id"]], "model": GEMINI}},
        user=owner,
    )
    assert refused["generateWithReference"] == {
        "__typename": "ProviderNotAllowedError",
        "providerKind": "GEMINI",
        "rule": "SERVER",
    }
    assert provider.requests == []
    sent = await client.gql(
        GENERATE, {"input": {"prompt": "me", "referenceImageIds": [image["id"]]}}, user=owner
    )
    assert sent["generateWithReference"]["__typename"] == "Generation"
    assert len(provider.requests) == 1

    await set_ai(http, served, image["id"], False, user=owner)
    # Replayed from the cursor taken before the generation: the toggle is the one event.
    transport = WebsocketsTransport(
        url=served.ws_url, init_payload={"Authorization": f"Bearer {served.token(owner)}"}
    )
    async with asyncio.timeout(60), Client(transport=transport) as session:
        request = GraphQLRequest(EVENTS, variable_values={"after": after})
        async for result in session.subscribe(request):
            event = result["meImageEvents"]
            break
    assert event["type"] == "AI_REFERENCE_TOGGLED" and event["expired"] is False
    assert event["image"]["id"] == image["id"]
    assert event["image"]["useCount"] == 1 and event["image"]["lastUsedAt"] is not None
