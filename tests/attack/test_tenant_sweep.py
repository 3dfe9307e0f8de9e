"""Tenant isolation sweep over the whole schema, against the live server.

Owner A calls every Query and Mutation field that takes an `ID` (directly, in a list or
inside an input object) once with each of owner B's real ids and once with a random id
of the same shape. The two answers must be identical, must not contain anything of B's,
and B's data must be unchanged afterwards. The fields, the arguments and the selection
sets all come from the introspected schema, so fields added later are swept as well.
The same holds for media URLs: B's media paths answer A exactly like missing media.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from graphql import GraphQLSchema, is_non_null_type

from testbed.images import jpeg, png
from tests.attack.schema_walk import (
    RootField,
    build_call,
    has_default,
    id_taking_fields,
    ids_in,
    introspect,
    root_fields,
    selection,
)
from tests.attack.target import Target

SECRETS = ("b-private-label-5e1", "b-private-tag-a07", "b's private prompt 7c2")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SIGNED = re.compile(r"(/media/[^\"?\s]+)\?[^\"\s]*")
# Export downloads are signed the same way (an expiry that moves with the clock).
SIGNED_EXPORT = re.compile(r"(/exports/[^\"?\s]+)\?[^\"\s]*")
# Ids no owner has and no database column holds as they are.
HOSTILE_IDS = [
    "a\x00b",  # PostgreSQL text refuses NUL
    "\ud800",  # an unpaired surrogate: not encodable as UTF-8 at all
    "' OR '1'='1",
    "../../etc/passwd",
    "%00",
    "😀" * 10,
    "x" * 100_000,
    "-1",
    "",
]


@dataclass
class World:
    schema: GraphQLSchema
    a: str
    b: str
    a_ids: list[str]
    b_ids: list[str]
    b_before: dict[str, Any]


def snapshot(target: Target, schema: GraphQLSchema, user: str) -> dict[str, Any]:
    """What `user` sees through every Query field that can be called without arguments."""
    seen = {}
    for field in root_fields(schema):
        if field.root == "query" and all(
            not is_non_null_type(arg.type) or has_default(arg) for arg in field.field.args.values()
        ):
            document = f"{{ {field.name} {selection(field.field.type)} }}"
            seen[field.name] = target.gql(user, document)[field.name]
    return seen


def unsigned(value: Any) -> str:
    """Signed URLs carry an expiry that moves with the clock; the rest must not move."""
    text = SIGNED.sub(r"\1?<signature>", json.dumps(value, sort_keys=True))
    return SIGNED_EXPORT.sub(r"\1?<signature>", text)


def random_like(candidate: str) -> str:
    if UUID.match(candidate):
        return str(uuid.uuid4())
    return secrets.token_hex(len(candidate))[: len(candidate)] or "x"


def seed(target: Target, user: str, label: str, tag: str, prompt: str) -> None:
    """An owner with images, a primary slot, an opted-in reference and a generation."""
    first = target.upload(
        user,
        jpeg(301 + len(user)),
        input={"kind": "FACE", "label": label, "tags": [tag], "primaryFor": "FACE_REF"},
    ).json()["data"]["uploadMeImage"]
    second = target.upload(user, png(302 + len(user)), input={"kind": "FULLBODY"}).json()
    assert second["data"]["uploadMeImage"]["__typename"] == "MeImage", second
    target.gql(
        user,
        "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }",
        {"id": first["id"]},
    )
    generated = target.gql(
        user,
        "mutation($input: GenerationInput!) { generateWithReference(input: $input) {"
        " __typename ... on Generation { status } ... on Error { code message } } }",
        {"input": {"prompt": prompt, "referenceImageIds": [first["id"]], "quality": "LOW"}},
    )["generateWithReference"]
    assert generated == {"__typename": "Generation", "status": "SUCCEEDED"}, generated
    export = target.gql(user, "mutation { exportMyData { id } }")["exportMyData"]
    for _ in range(2000):  # bounded; each poll waits on the server's answer
        job = target.gql(user, "query($id: ID!) { dataExport(id: $id) { status } }", export)
        if job["dataExport"]["status"] != "RUNNING":
            break
    assert job["dataExport"] == {"status": "DONE"}, job


@pytest.fixture(scope="module")
def world(live: Target) -> World:
    a, b = f"sweep-a-{uuid.uuid4().hex[:8]}", f"sweep-b-{uuid.uuid4().hex[:8]}"
    schema = introspect(live, a)
    seed(live, a, "a-label", "a-tag", "a's prompt")
    seed(live, b, *SECRETS)
    b_before = snapshot(live, schema, b)
    a_view = snapshot(live, schema, a)
    query = schema.query_type
    assert query is not None

    def ids(view: dict[str, Any]) -> set[str]:
        return set().union(*(ids_in(schema, query.fields[k].type, v) for k, v in view.items()))

    # Values both owners see (the space id `personal`) are nobody's secret.
    b_ids = sorted(ids(b_before) - ids(a_view))
    # B's images, their media, B's generation and its output, B's owner id at least.
    assert len(b_ids) >= 6, b_ids
    return World(schema, a, b, sorted(ids(a_view) - ids(b_before)), b_ids, b_before)


def test_the_sweep_finds_the_id_taking_fields(world: World) -> None:
    labels = {field.label for field in id_taking_fields(world.schema)}
    # The fields known today; anything added later is swept too, without a list to update.
    # (`generations` pages by opaque String cursors: tests/generation/test_connection.py
    # holds foreign cursors to account.)
    assert {
        "query.meImage",
        "query.generation",
        "mutation.createMeImage",
        "mutation.updateMeImage",
        "mutation.setAiReferenceEnabled",
        "mutation.setPrimary",
        "mutation.deleteMeImage",
        "mutation.generateWithReference",
    } <= labels


def test_the_comparison_tells_an_own_id_from_a_random_one(live: Target, world: World) -> None:
    """The control: if foreign ids were served like own ones, the sweep would see it."""
    for field in id_taking_fields(world.schema):
        if field.root == "query":
            own = {answer(live, world, field, candidate) for candidate in world.a_ids}
            random = answer(live, world, field, str(uuid.uuid4()))
            assert own - {random}, field.label


def test_foreign_ids_answer_like_random_ids_and_change_nothing(live: Target, world: World) -> None:
    differences, leaks, calls = [], [], 0
    for field in id_taking_fields(world.schema):
        for candidate in world.b_ids:
            foreign = answer(live, world, field, candidate)
            random = answer(live, world, field, random_like(candidate))
            calls += 2
            if foreign != random:
                differences.append((field.label, candidate, foreign, random))
            others = [i for i in (*world.b_ids, *SECRETS) if i != candidate and i in foreign]
            if others:
                leaks.append((field.label, candidate, others))
    assert calls >= 2 * 8 * 6
    assert not differences, differences[:3]
    assert not leaks, leaks[:3]
    # Nothing of B changed: images, slots, consent, labels, generations, credits, events.
    assert unsigned(snapshot(live, world.schema, world.b)) == unsigned(world.b_before)


def answer(live: Target, world: World, field: RootField, candidate: str) -> str:
    call = build_call(world.schema, field, candidate)
    assert not call.uploads, "no id-taking field takes a file today; send multipart if one does"
    response = live.post(world.a, {"query": call.document, "variables": call.variables})
    assert response.status_code == 200, (field.label, response.text)
    body = response.json()
    # An id we made up must not be an excuse for a server fault.
    assert "Internal server error" not in response.text, (field.label, body)
    return unsigned(body).replace(candidate, "<id>")


def test_foreign_media_urls_answer_like_missing_media(live: Target, world: World) -> None:
    urls = sorted(set(SIGNED.findall(json.dumps(world.b_before))))
    assert len(urls) >= 4, urls  # originals, thumbnails, the generated image, the avatar
    a_own = snapshot(live, world.schema, world.a)
    a_signature = SIGNED.search(json.dumps(a_own))
    assert a_signature is not None
    a_query = urlsplit(a_signature.group(0)).query
    with live.client() as http:
        for path in urls:
            _, _, media_id, variant = urlsplit(path).path.split("/")
            missing = f"/media/{uuid.uuid4()}/{variant}"
            for method in ("GET", "HEAD"):
                for auth in (live.headers(world.a), {}):
                    # A's token, no signature; then A's own valid signature grafted onto B's id.
                    for query in ("", f"?{a_query}"):
                        foreign = http.request(method, path + query, headers=auth)
                        absent = http.request(method, missing + query, headers=auth)
                        assert foreign.status_code == absent.status_code == 404, (path, query)
                        assert foreign.content == absent.content
                        assert foreign.headers.get("content-type") == absent.headers.get(
                            "content-type"
                        )
            assert media_id not in json.dumps(a_own)


def test_hostile_ids_get_answers_not_faults(live: Target, world: World) -> None:
    for field in id_taking_fields(world.schema):
        for candidate in HOSTILE_IDS:
            answer(live, world, field, candidate)  # asserts 200 and no masked server error
    assert unsigned(snapshot(live, world.schema, world.b)) == unsigned(world.b_before)
