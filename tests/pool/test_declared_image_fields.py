"""Every shape of an image follows the encrypted-field declaration: the event snapshot
and the MCP answer (with its published schema) carry a field declared on a throwaway
table without a change to either, and with the product's declaration every declared
field travels from the GraphQL input to the GraphQL type, the logged event and the MCP
answer. (Export and import: tests/portability/test_declared_fields.py.)"""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from strawberry.utils.str_converters import to_camel_case

from api.mcp import handlers, tools
from resolvers.events import feed
from resolvers.events.cursors import encode_cursor
from resolvers.generation.pricing import MODELS
from resolvers.pool import me_images
from resolvers.pool.me_images import EventType
from resolvers.stores import Caller
from storage.encrypted import EncryptedColumns
from storage.eventlog import snapshot
from testbed.images import jpeg
from tests.support.app import Api
from tests.support.declared_fields import DECLARED, VALUES

SET_AI = "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }"
UPDATE = """mutation($id: ID!, $input: UpdateMeImageInput!) {
  updateMeImage(id: $id, input: $input) { __typename } }"""


def sample(declared: EncryptedColumns[Any], seed: str) -> dict[str, Any]:
    """A value for every declared field, by name."""
    return {f.name: [f"{seed}-a", f"{seed}-b"] if f.is_list else f"{seed} ✓" for f in declared}


async def _image(api: Api, owner: str) -> me_images.Image:
    uploaded = await api.upload_image(jpeg(7), user=owner, input={"kind": "FACE"})
    assert (await api.gql(SET_AI, {"id": uploaded["id"]}, user=owner))["setAiReferenceEnabled"][
        "__typename"
    ] == "MeImage"
    return await me_images.get_image(api.stores, Caller(owner), uploaded["id"])


def _published_reference_image() -> dict[str, Any]:
    listed = {t.name: t for t in tools.with_models(tuple(MODELS))}
    output = listed[tools.LIST_REFERENCE_IMAGES].outputSchema
    assert output is not None
    return output["properties"]["images"]["items"]  # type: ignore[no-any-return]


async def test_a_new_encrypted_field_rides_the_event_snapshot(api: Api, owner: str) -> None:
    image = await _image(api, owner)
    async with api.stores.reading() as read:
        stored = await read.pool.live_image(owner, image.space_id, image.id)
    assert stored is not None
    # The image's row as a table declaring two more encrypted fields would hold it.
    row = SimpleNamespace(**{**stored.row.model_dump(), **{f.column: None for f in DECLARED}})
    async with api.stores.db.transaction() as session:
        await api.stores.vault.seal(session, DECLARED, row, dataclasses.asdict(VALUES))
    logged = json.loads(json.dumps(snapshot.encode(row, stored.media, stored.ref, DECLARED)))
    assert {f.column for f in DECLARED} <= set(logged)
    assert "only mine" not in json.dumps(logged, ensure_ascii=False)  # sealed, not plain
    async with api.stores.db.session() as session:
        state = await snapshot.decode(
            session, api.stores.vault, logged, owner_id=owner, image_id=row.id, declared=DECLARED
        )
    assert state.encrypted == VALUES
    assert (state.kind, state.media.id) == (image.kind.value, image.media.id)


async def test_a_new_encrypted_field_is_in_the_mcp_answer_and_its_schema(
    api: Api, owner: str
) -> None:
    image = dataclasses.replace(await _image(api, owner), encrypted=VALUES)  # type: ignore[arg-type]
    call = handlers.ToolCall(api.stores, api.app.state.server.urls, Caller(owner))
    answer = json.loads(json.dumps(handlers.reference_image(call, image, DECLARED)))
    schema = tools.reference_image_schema(DECLARED)
    jsonschema.validate(answer, schema)
    assert {name: answer[name] for name in DECLARED.names()} == dataclasses.asdict(VALUES)
    assert set(schema["required"]) == set(answer)
    # A value over a declared bound is outside the published schema.
    too_long = {**answer, "note": "x" * (DECLARED["note"].max_chars + 1)}
    assert not jsonschema.Draft202012Validator(schema).is_valid(too_long)
    # The tool publishes what the same function makes of the product's declaration.
    assert _published_reference_image() == tools.reference_image_schema()


async def test_every_declared_field_travels_from_input_to_type_event_and_mcp(
    api: Api, owner: str
) -> None:
    declared = me_images.ENCRYPTED
    first, second = sample(declared, "first"), sample(declared, "second")
    fields = " ".join(to_camel_case(name) for name in declared.names())
    uploaded = await api.upload_image(
        jpeg(8),
        user=owner,
        input={to_camel_case(k): v for k, v in first.items()},
        fields=f"__typename ... on MeImage {{ id {fields} }} ... on Error {{ code message }}",
    )
    assert {k: uploaded[to_camel_case(k)] for k in first} == first
    changes = {to_camel_case(k): v for k, v in second.items()}
    updated = await api.gql(UPDATE, {"id": uploaded["id"], "input": changes}, user=owner)
    assert updated["updateMeImage"]["__typename"] == "MeImage"
    await api.gql(SET_AI, {"id": uploaded["id"]}, user=owner)
    listed = (await api.gql(f"{{ meImages {{ id {fields} }} }}", user=owner))["meImages"]
    assert [{k: i[to_camel_case(k)] for k in second} for i in listed] == [second]

    # The log's snapshot of the update holds every field as the update left it.
    stream = feed.follow(api.stores, Caller(owner), encode_cursor(0))
    try:
        async for event in stream:
            if event.type is EventType.UPDATED:
                break
    finally:
        await stream.aclose()
    assert set(event.fields) == set(second)
    assert event.image is not None
    assert dataclasses.asdict(event.image.encrypted) == second

    call = handlers.ToolCall(api.stores, api.app.state.server.urls, Caller(owner))
    answer = await handlers.call_tool(call, tools.LIST_REFERENCE_IMAGES, {})
    assert not answer.isError and answer.structuredContent is not None
    (shown,) = answer.structuredContent["images"]
    assert {k: shown[k] for k in second} == second
    jsonschema.validate(shown, _published_reference_image())
