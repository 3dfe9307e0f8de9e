"""Fixtures of reference generation: the provider test server and an app pointed at it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_asyncio

from api.settings import Settings
from resolvers.generation import credits
from storage.blobs import BlobStore
from testbed.images import jpeg
from tests.generation.comfyui_engine import ComfyUIEngine
from tests.support.app import Api, running_api
from tests.support.databases import BACKENDS, database_url
from tests.support.provider_server import GEMINI_KEY, OPENAI_KEY, ProviderServer

__all__ = ["GEMINI_KEY", "OPENAI_KEY"]

GENERATION_FIELDS = """
  id status prompt modelRequested modelUsed quality size n referenceIds cost failure warning
  createdAt completedAt
  references { id }
  images { index mediaId url thumbnailUrl contentType width height base64 }
"""
GENERATION = (
    """
  __typename
  ... on Generation {"""
    + GENERATION_FIELDS
    + """}
  ... on Error { code message }
  ... on InvalidInputError { field }
  ... on TooLargeError { maxBytes }
  ... on InsufficientCreditsError { required available }
  ... on ReferenceNotUsableError { referenceIds }
  ... on ProviderNotConfiguredError { provider }
  ... on ProviderFailedError { provider detail generationId }
"""
)
GENERATE = (
    "mutation($input: GenerationInput!) { generateWithReference(input: $input) {"
    + GENERATION
    + "} }"
)


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=BACKENDS)
async def gen_api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_database: str,
    provider_server: ProviderServer,
) -> AsyncIterator[Api]:
    """An app with both providers pointed at the test server, on each database."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"gen-{backend}")
    settings = Settings(
        data_dir=tmp,
        database_url=database_url(backend, tmp, pg_database),
        openai_api_key=OPENAI_KEY,
        openai_base_url=provider_server.url,
        gemini_api_key=GEMINI_KEY,
        gemini_base_url=provider_server.url + "/v1beta",
        generation_timeout_s=15.0,
    )
    async with running_api(settings, backend) as running:
        yield running


class PatchedBlobs:
    """The real blob store with some of its methods replaced for one test."""

    def __init__(self, real: BlobStore, **overrides: Callable[..., Awaitable[Any]]) -> None:
        self._real = real
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        return self._overrides.get(name) or getattr(self._real, name)


@contextmanager
def blobs_patched(api: Api, **overrides: Callable[..., Awaitable[Any]]) -> Iterator[BlobStore]:
    """Swap the running app's blob store for one test; yields the real one."""
    stores = api.stores
    real = stores.blobs
    stores.blobs = cast(BlobStore, PatchedBlobs(real, **overrides))
    try:
        yield real
    finally:
        stores.blobs = real


@contextmanager
def generation_config(api: Api, **changes: Any) -> Iterator[None]:
    """Change the running app's generation settings for one test."""
    stores = api.stores
    before = stores.config.generation
    stores.config.generation = replace(before, **changes)
    try:
        yield
    finally:
        stores.config.generation = before


async def grant(api: Api, owner: str, amount: int) -> int:
    stores = api.stores
    return await credits.grant(stores.db, stores.config.generation, owner, amount, "test")


async def balance(api: Api, owner: str, space: str | None = None) -> int:
    data = await api.gql("{ profile { credits } }", user=owner, space=space)
    return int(data["profile"]["credits"])


async def add_reference(
    api: Api,
    owner: str,
    seed: int,
    *,
    data: bytes | None = None,
    opt_in: bool = True,
    space: str | None = None,
) -> dict[str, Any]:
    photo = data if data is not None else jpeg(seed)
    image = await api.upload_image(photo, user=owner, space=space)
    if opt_in:
        toggled = await api.gql(
            "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }",
            {"id": image["id"]},
            user=owner,
            space=space,
        )
        assert toggled["setAiReferenceEnabled"]["__typename"] == "MeImage"
    return image


async def generate(
    api: Api, owner: str, references: list[str], space: str | None = None, **input: Any
) -> dict[str, Any]:
    variables = {
        "input": {"prompt": "me as an astronaut", "referenceImageIds": references, **input}
    }
    data = await api.gql(GENERATE, variables, user=owner, space=space)
    result: dict[str, Any] = data["generateWithReference"]
    return result


async def ledger(api: Api, owner: str) -> list[dict[str, Any]]:
    """The owner's credit ledger rows, read straight from the database."""
    from sqlalchemy import select

    from storage.tables import CreditEntry

    async with api.stores.db.session() as session:
        rows = (
            await session.execute(
                select(CreditEntry).where(CreditEntry.owner_id == owner)  # type: ignore[arg-type]
            )
        ).scalars()
        return [json.loads(r.model_dump_json()) for r in rows]


HISTORY = """
  query($first: Int!, $after: String) {
    generations(first: $first, after: $after) {
      __typename
      ... on GenerationConnection {
        edges { cursor node { id prompt status } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
      ... on InvalidInputError { code field message }
    }
  }
"""


async def make_history(api: Api, owner: str, count: int, seed: int) -> list[str]:
    """`count` generations, oldest first."""
    ref = await add_reference(api, owner, seed)
    await grant(api, owner, 3 * count)
    made = []
    for i in range(count):
        result = await generate(api, owner, [ref["id"]], prompt=f"take {i}", quality="LOW")
        assert result["__typename"] == "Generation", result
        made.append(result["id"])
    return made


async def history_page(
    api: Api,
    owner: str,
    *,
    first: int = 20,
    after: str | None = None,
    space: str | None = None,
) -> dict[str, Any]:
    """One page of `generations`: the connection, or the typed error."""
    data = await api.gql(HISTORY, {"first": first, "after": after}, user=owner, space=space)
    return data["generations"]  # type: ignore[no-any-return]


async def history_ids(api: Api, owner: str, space: str | None = None) -> list[str]:
    """The ids of the first page of the history (newest first)."""
    page = await history_page(api, owner, space=space)
    assert page["__typename"] == "GenerationConnection", page
    return [edge["node"]["id"] for edge in page["edges"]]


MASK_FIELDS = "mask { contentType width height base64 }"
MASKED_GENERATE = GENERATE.replace(GENERATION_FIELDS, GENERATION_FIELDS + MASK_FIELDS).replace(
    "... on Error { code message }",
    "... on Error { code message }\n  ... on MaskNotSupportedError { provider model }",
)


async def generate_with_mask(
    api: Api,
    owner: str,
    references: list[str],
    mask: bytes,
    *,
    filename: str = "mask.png",
    content_type: str = "image/png",
    idempotency_key: str | None = None,
    **input: Any,
) -> dict[str, Any]:
    """generateWithReference as a GraphQL multipart request, the mask as file part `0`."""
    variables: dict[str, Any] = {
        "input": {
            "prompt": "me in a red coat",
            "referenceImageIds": references,
            "mask": None,
            **input,
        }
    }
    query = MASKED_GENERATE
    if idempotency_key is not None:
        query = query.replace(
            "mutation($input: GenerationInput!) { generateWithReference(input: $input)",
            "mutation($input: GenerationInput!, $key: String) "
            "{ generateWithReference(input: $input, idempotencyKey: $key)",
        )
        variables["key"] = idempotency_key
    response = await api.http.post(
        api.url,
        headers=api.headers(owner, preflight=True),
        data={
            "operations": json.dumps({"query": query, "variables": variables}),
            "map": json.dumps({"0": ["variables.input.mask"]}),
        },
        files={"0": (filename, mask, content_type)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["generateWithReference"]
    return result


async def generation_count(api: Api, owner: str) -> int:
    from sqlalchemy import func, select

    from storage.tables import GenerationRecord

    async with api.stores.db.session() as session:
        query = select(func.count()).where(
            GenerationRecord.owner_id == owner  # type: ignore[arg-type]
        )
        return int((await session.execute(query)).scalar_one())


# The operator's own engine (ComfyUI) ------------------------------------------------

EXAMPLE_WORKFLOW = Path(__file__).parents[2] / "examples" / "comfyui" / "instantid-sdxl.json"
# Two references, a price, and no {{batch_size}}: one image per call.
TWO_FACES_WORKFLOW = {
    "meimages": {"name": "two-faces", "description": "Two faces, one picture.", "price": 3},
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "model.safetensors"}},
    "2": {"class_type": "LoadImage", "inputs": {"image": "{{reference_1}}"}},
    "3": {"class_type": "LoadImage", "inputs": {"image": "{{reference_2}}"}},
    "5": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}", "clip": ["1", 1]}},
    "6": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": "{{width}}", "height": "{{height}}", "batch_size": 1},
    },
    "7": {
        "class_type": "KSampler",
        "inputs": {"seed": "{{seed}}", "model": ["1", 0], "latent_image": ["6", 0]},
    },
    "8": {"class_type": "PreviewImage", "inputs": {"images": ["7", 0]}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["7", 0], "filename_prefix": "x"}},
}


@pytest.fixture(scope="session")
def comfyui_engine() -> Iterator[ComfyUIEngine]:
    engine = ComfyUIEngine()
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture
def engine(comfyui_engine: ComfyUIEngine) -> Iterator[ComfyUIEngine]:
    comfyui_engine.reset()
    yield comfyui_engine
    comfyui_engine.reset()


@pytest.fixture(scope="session")
def workflow_files(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("workflows")
    two_faces = folder / "two-faces.json"
    two_faces.write_text(json.dumps(TWO_FACES_WORKFLOW))
    return f"{EXAMPLE_WORKFLOW},{two_faces}"


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=BACKENDS)
async def comfy_api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_database: str,
    comfyui_engine: ComfyUIEngine,
    workflow_files: str,
) -> AsyncIterator[Api]:
    """An app with the stand-in engine and two workflows, on each database (and OpenAI
    unconfigured: a local model must not need it)."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"comfy-{backend}")
    settings = Settings.from_env(
        {
            "MEIMAGES_DATA_DIR": str(tmp),
            "MEIMAGES_DATABASE_URL": database_url(backend, tmp, pg_database),
            "MEIMAGES_COMFYUI_URL": comfyui_engine.url,
            "MEIMAGES_COMFYUI_WORKFLOWS": workflow_files,
        }
    )
    async with running_api(settings, backend) as running:
        yield running
