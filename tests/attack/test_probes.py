"""The graphql-cop probes, as pytest cases against a live server in production mode.

Each probe sends what graphql-cop sends (and a few harder variants); the server must
refuse or answer quickly, never with a 5xx, never with a stack trace or a schema hint,
with at most a handful of errors, and stay healthy.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
import websockets.exceptions

from testbed.images import jpeg
from tests.attack.target import Target

# Everything here is refused by the parser, a validation rule or a size limit, before
# anything runs (`errors_of` checks there is no data). No verdict rests on the clock: a
# busy machine answers slowly, and the client's timeout only guards against a hang.
MAX_ERRORS = 5
KILL_SWITCH = "mutation { setAiUsesReferenceImages(enabled: false) { aiUsesReferenceImages } }"
INTROSPECTION = [
    "{ __schema { types { name } } }",
    '{ __type(name: "Query") { name fields { name } } }',
    "query { __schema { queryType { name } mutationType { name } } }",
    # graphql-cop's circular introspection query.
    "query { __schema { types { fields { type { fields { type { fields { type { fields"
    " { type { name } } } } } } } } } } }",
]


def probe(target: Target, user: str, body: Any, *, raw: bytes | None = None) -> httpx.Response:
    """One hostile request: answered, without a 5xx, the server still healthy."""
    with target.client() as http:
        if raw is None:
            response = http.post("/graphql", json=body, headers=target.headers(user))
        else:
            headers = {**target.headers(user), "content-type": "application/json"}
            response = http.post("/graphql", content=raw, headers=headers)
    assert response.status_code < 500, response.text[:300]
    assert "Traceback" not in response.text and "stacktrace" not in response.text.lower()
    assert target.healthy()
    return response


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert isinstance(body, dict), body
    errors: list[dict[str, Any]] = body.get("errors") or []
    assert 1 <= len(errors) <= MAX_ERRORS, errors
    assert not body.get("data"), body  # refused documents never run
    for error in errors:
        assert "exception" not in (error.get("extensions") or {}), error
    return errors


def kill_switch(target: Target, user: str) -> bool:
    profile = target.gql(user, "{ profile { aiUsesReferenceImages } }")["profile"]
    return bool(profile["aiUsesReferenceImages"])


# Information disclosure -----------------------------------------------------------


@pytest.mark.parametrize("query", INTROSPECTION)
def test_introspection_is_off(production: Target, query: str) -> None:
    response = probe(production, "cop", {"query": query})
    errors_of(response)
    assert "MeImage" not in response.text and "Mutation" not in response.text


def test_graphiql_and_other_ides_are_off(production: Target) -> None:
    with production.client() as http:
        for path in ("/graphiql", "/graphiql/", "/graphiql/assets/", "/playground", "/altair"):
            page = http.get(path, headers={"Accept": "text/html"})
            assert page.status_code == 404, path
            assert "graphiql" not in page.text.lower()
        ide = http.get("/graphql", headers={"Accept": "text/html"})
        assert ide.status_code == 404
        assert "graphiql" not in ide.text.lower()


@pytest.mark.parametrize(
    "query",
    [
        "{ meImagez { id } }",  # field
        "{ meImages { idd } }",  # field of an object
        "{ meImages(kindd: FACE) { id } }",  # argument
        "{ meImages(kind: FAC) { id } }",  # enum value
        "query { ...F } fragment F on Querry { __typename }",  # type in a fragment
        "query($k: MeImageKnd) { meImages(kind: $k) { id } }",  # type of a variable
        'mutation { createMeImage(input: {mediaIdd: "x"}) { __typename } }',  # input field
        "{ meImages @skipp(if: true) { id } }",  # directive
        "{ profil { ownerId } meImage { id } }",  # several at once
    ],
)
def test_no_suggestions_in_production(production: Target, query: str) -> None:
    errors = errors_of(probe(production, "cop", {"query": query}))
    assert all("Did you mean" not in error["message"] for error in errors), errors


@pytest.mark.parametrize(
    "query",
    [
        "{ meImagez { id } }",
        "{ meImages(kindd: FACE) { id } }",
        "{ meImages(kind: FAC) { id } }",
        'mutation { createMeImage(input: {mediaIdd: "x"}) { __typename } }',
    ],
)
def test_development_mode_does_suggest(live: Target, query: str) -> None:
    """The control: the same mistakes get hints in development, so their absence means something."""
    errors = live.post("cop", {"query": query}).json()["errors"]
    assert any("Did you mean" in error["message"] for error in errors), errors


def test_errors_never_carry_stack_traces(production: Target) -> None:
    """graphql-cop's unhandled-error and trace-mode probes."""
    for body in ({"query": "qwerty cop { abc }"}, {"query": "query { __typename }"}):
        response = probe(production, "cop", body)
        assert "tracing" not in json.dumps(response.json().get("extensions") or {})
        assert "exception" not in response.text.lower()


# Request forms a browser could forge (the CSRF side is in test_csrf.py) -------------


def test_get_mutations_are_refused_and_change_nothing(production: Target) -> None:
    with production.client() as http:
        for headers in (production.headers("cop"), production.headers("cop", preflight=False)):
            response = http.get("/graphql", params={"query": KILL_SWITCH}, headers=headers)
            assert response.status_code in (400, 405), response.text
            assert '"data"' not in response.text
    assert kill_switch(production, "cop") is True


def test_url_encoded_and_text_plain_posts_are_never_executed(production: Target) -> None:
    """graphql-cop's POST-based CSRF probes, even with the preflight header added."""
    with production.client() as http:
        for headers in (production.headers("cop"), production.headers("cop", preflight=False)):
            refused = [
                http.post("/graphql", data={"query": KILL_SWITCH}, headers=headers),
                http.post(
                    "/graphql",
                    content=json.dumps({"query": KILL_SWITCH}),
                    headers={**headers, "content-type": "text/plain"},
                ),
                # graphql-cop puts the query in the URL of a bodyless POST.
                http.post("/graphql", params={"query": KILL_SWITCH}, headers=headers),
            ]
            for response in refused:
                assert 400 <= response.status_code < 500, response.text
                assert "aiUsesReferenceImages" not in response.text
    assert kill_switch(production, "cop") is True


# Denial of service -----------------------------------------------------------------


def test_batching_is_refused(production: Target) -> None:
    batch = [{"query": "query { __typename }"}] * 10 + [{"query": KILL_SWITCH}]
    response = probe(production, "cop", batch)
    assert response.status_code == 400
    assert not isinstance(_json_or_none(response), list)
    assert kill_switch(production, "cop") is True


@pytest.mark.parametrize("field", ["__typename", "profile { ownerId }", "meImages { id }"])
def test_a_hundred_aliases_are_refused(production: Target, field: str) -> None:
    query = "{ " + " ".join(f"a{i}: {field}" for i in range(101)) + " }"
    errors = errors_of(probe(production, "cop", {"query": query}))
    assert "aliases" in errors[0]["message"].lower()


@pytest.mark.parametrize(
    "directives",
    [
        "@aa" * 10,  # graphql-cop's directive overloading: unknown directives
        "@skip(if: false)" * 50,  # a known directive, repeated
        "@include(if: true)" * 400,
    ],
)
def test_repeated_directives_are_refused_with_few_errors(
    production: Target, directives: str
) -> None:
    errors_of(probe(production, "cop", {"query": f"query {{ __typename {directives} }}"}))


def test_circular_fragments_are_refused(production: Target) -> None:
    for query in (
        # graphql-cop's own probe (refused twice over: introspection and the cycle).
        "query { __schema { ...A } } fragment A on __Schema { __typename ...B }"
        " fragment B on __Schema { ...A }",
        "query { ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }",
        "query { ...A } fragment A on Query { profile { ...B } } fragment B on Profile"
        " { avatar { id } ...B }",
    ):
        errors_of(probe(production, "cop", {"query": query}))


@pytest.mark.parametrize(
    "query",
    [
        "{" + "a{" * 3000 + "b" + "}" * 3000 + "}",  # selection sets
        "{ meImage(id: " + "[" * 3000 + "]" * 3000 + ") { id } }",  # list literal
        "{ meImage(id: " + "{a:" * 3000 + "1" + "}" * 3000 + ") { id } }",  # object literal
    ],
    ids=["selections", "list-literal", "object-literal"],
)
def test_deep_nesting_is_refused(production: Target, query: str) -> None:
    errors_of(probe(production, "cop", {"query": query}))


def test_deep_json_is_refused_not_crashed(production: Target) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    variables = b'{"query": "query($id: ID!) { meImage(id: $id) { id } }", "variables": {"id": '
    for raw in (deep, variables + deep + b"}}"):
        response = probe(production, "cop", None, raw=raw)
        assert response.status_code == 400, response.text[:200]


def test_deep_json_over_websocket_closes_only_that_socket(production: Target) -> None:
    async def attack() -> int:
        async with websockets.connect(
            f"ws://127.0.0.1:{production.port}/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        ) as ws:
            init = {"type": "connection_init", "payload": {"token": production.token("cop")}}
            await ws.send(json.dumps(init))
            assert "connection_ack" in str(await asyncio.wait_for(ws.recv(), 60))
            await ws.send("[" * 30_000 + "]" * 30_000)
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 60)
            assert closed.value.rcvd is not None
            return closed.value.rcvd.code

    code = asyncio.run(attack())
    assert 4000 <= code < 5000 or code == 1009, code  # a protocol close, not a crash (1011)
    assert production.healthy()


def test_oversized_documents_are_refused(production: Target) -> None:
    many_tokens = "{ meImages { " + " ".join(["id"] * 5000) + " } }"
    errors = errors_of(probe(production, "cop", {"query": many_tokens}))
    assert "token" in errors[0]["message"].lower()
    # graphql-cop's field duplication: 500 times the same field.
    response = probe(production, "cop", {"query": "query { " + "__typename " * 500 + "}"})
    assert response.status_code == 200
    # One enormous name: refused, and the answer is not much bigger than the question.
    long_name = "{ " + "x" * 1_000_000 + " }"
    response = probe(production, "cop", {"query": long_name})
    errors_of(response)
    assert len(response.content) < 1.2 * len(long_name)


def test_very_long_ids_and_strings_get_answers_not_faults(production: Target) -> None:
    image = production.upload("cop-long", jpeg(901)).json()["data"]["uploadMeImage"]
    huge = "x" * 2_000_000
    cases = [
        ("query($id: ID!) { meImage(id: $id) { id } }", {"id": huge}, {"meImage": None}),
        (
            "mutation($id: ID!) { deleteMeImage(id: $id) { __typename ... on Error { code } } }",
            {"id": huge},
            {"deleteMeImage": {"__typename": "NotFoundError", "code": "NOT_FOUND"}},
        ),
        (
            "mutation($m: ID!) { createMeImage(input: {mediaId: $m}) { __typename ... on Error { code } } }",
            {"m": huge},
            {"createMeImage": {"__typename": "NotFoundError", "code": "NOT_FOUND"}},
        ),
        (
            "mutation($id: ID!, $l: String) { updateMeImage(id: $id, input: {label: $l}) {"
            " __typename ... on Error { code } } }",
            {"id": image["id"], "l": huge},
            {"updateMeImage": {"__typename": "InvalidInputError", "code": "INVALID_INPUT"}},
        ),
        (
            "mutation($id: ID!, $t: [String!]) { updateMeImage(id: $id, input: {tags: $t}) {"
            " __typename ... on Error { code } } }",
            {"id": image["id"], "t": [f"tag-{i}" for i in range(100_000)]},
            {"updateMeImage": {"__typename": "InvalidInputError", "code": "INVALID_INPUT"}},
        ),
        (
            'mutation($r: [ID!]!) { generateWithReference(input: {prompt: "p", referenceImageIds: $r})'
            " { __typename ... on Error { code } } }",
            {"r": [str(i) for i in range(100_000)]},
            {"generateWithReference": {"__typename": "InvalidInputError", "code": "INVALID_INPUT"}},
        ),
    ]
    for query, variables, expected in cases:
        response = probe(production, "cop-long", {"query": query, "variables": variables})
        assert response.json() == {"data": expected}, response.text[:300]
    # The same through the document itself rather than variables.
    inline = '{ meImage(id: "' + "y" * 2_000_000 + '") { id } }'
    assert probe(production, "cop-long", {"query": inline}).json() == {"data": {"meImage": None}}
    # Nothing was changed by any of it.
    label = production.gql("cop-long", "{ meImages { label tags } }")["meImages"]
    assert label == [{"label": None, "tags": []}]


def test_many_errors_are_capped(production: Target) -> None:
    unknown = "{ " + " ".join(f"f{i}" for i in range(200)) + " }"
    errors_of(probe(production, "cop", {"query": unknown}))
    variables = "query(" + " ".join(f"$v{i}: Nope" for i in range(200)) + ") { __typename }"
    errors_of(probe(production, "cop", {"query": variables}))


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
