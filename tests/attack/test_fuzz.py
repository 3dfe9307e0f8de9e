"""Schemathesis fuzzes every Query and Mutation root field of the live server.

Every generated request must get an answer without a 5xx and without an unexpected
(masked) server error; schemathesis' own checks judge each response. `Upload` arguments
are real multipart files: the generator draws a placeholder naming one of the files
below, and the request is rewritten into a GraphQL multipart request before it is sent.
`ID` arguments are drawn from the fuzzing owner's real ids as well as from random values.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from functools import cache
from typing import Any

import graphql
import httpx
import pytest
import schemathesis
from graphql.language import (
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
)
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.graphql import nodes
from schemathesis.graphql.checks import GraphQLServerError
from schemathesis.specs.graphql.schemas import GraphQLSchema

from schema import build_schema
from schema.enums import ErrorCode
from testbed.images import decompression_bomb, jpeg, png, webp
from tests.attack.conftest import FUZZ_REQUESTS
from tests.attack.target import Target

# Examples per root field and generation mode; CI keeps the default, a deeper run sets more.
EXAMPLES = int(os.environ.get("MEIMAGES_FUZZ_EXAMPLES", "25"))
# CI draws the same examples every run; an exploratory run names a seed for fresh ones.
SEED = os.environ.get("MEIMAGES_FUZZ_SEED")
FUZZ_OWNER = "fuzz-owner"
UPLOAD_PLACEHOLDER = "meimages-fuzz-upload:"
# The stable codes of errors a client can act on (the schema's `ErrorCode`), plus auth.
CODES = {code.name for code in ErrorCode} | {"UNAUTHENTICATED"}


@cache
def upload_files() -> dict[str, tuple[str, bytes, str]]:
    """The files an `Upload` argument can turn into: good images and hostile ones."""
    return {
        "jpeg": ("photo.jpg", jpeg(71), "image/jpeg"),
        "png": ("photo.png", png(72), "image/png"),
        "webp": ("photo.webp", webp(73), "image/webp"),
        "svg": ("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        "empty": ("empty.jpg", b"", "image/jpeg"),
        "truncated": ("cut.jpg", jpeg(74)[:300], "image/jpeg"),
        "bomb": ("bomb.png", decompression_bomb(), "image/png"),
        "traversal": ("../../etc/passwd", jpeg(75), "application/octet-stream"),
    }


def root_fields() -> list[str]:
    """Every Query and Mutation field, from the same schema the server builds."""
    schema = build_schema()._schema
    assert schema.query_type is not None and schema.mutation_type is not None
    return [f"Query.{name}" for name in schema.query_type.fields] + [
        f"Mutation.{name}" for name in schema.mutation_type.fields
    ]


class _BindUploads(Visitor):
    """Turns upload placeholders into `$uploadN` variables, as multipart clients send them."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, str] = {}

    def enter_string_value(self, node: StringValueNode, *_: Any) -> VariableNode | None:
        if not node.value.startswith(UPLOAD_PLACEHOLDER):
            return None
        name = f"upload{len(self.files)}"
        self.files[name] = node.value.removeprefix(UPLOAD_PLACEHOLDER)
        return VariableNode(name=NameNode(value=name))

    def leave_operation_definition(
        self, node: OperationDefinitionNode, *_: Any
    ) -> OperationDefinitionNode:
        upload = NonNullTypeNode(type=NamedTypeNode(name=NameNode(value="Upload")))
        added = tuple(
            VariableDefinitionNode(
                variable=VariableNode(name=NameNode(value=name)), type=upload, directives=()
            )
            for name in self.files
        )
        return dataclasses.replace(
            node, variable_definitions=(*(node.variable_definitions or ()), *added)
        )


def send(http: httpx.Client, target: Target, body: str) -> httpx.Response:
    headers = target.headers(FUZZ_OWNER)
    try:
        document = graphql.parse(body)
    except graphql.GraphQLError:
        return http.post("/graphql", json={"query": body}, headers=headers)
    binder = _BindUploads()
    document = graphql.visit(document, binder)
    if not binder.files:
        return http.post("/graphql", json={"query": body}, headers=headers)
    files = upload_files()
    operations = {"query": graphql.print_ast(document), "variables": dict.fromkeys(binder.files)}
    mapping = {str(i): [f"variables.{name}"] for i, name in enumerate(binder.files)}
    parts = [(str(i), files[kind]) for i, kind in enumerate(binder.files.values())]
    response = http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps(mapping)},
        files=parts,
        headers=headers,
    )
    response.request.read()  # schemathesis reads the request back for its report
    return response


@pytest.fixture(scope="session")
def fuzzing(live: Target) -> Iterator[GraphQLSchema]:
    """The live server's introspected schema, with strategies for `Upload` and for real ids."""
    own = [
        target_upload(live, data)
        for data in (jpeg(61), png(62), webp(63))  # something real for the ids to hit
    ]
    schemathesis.graphql.scalar(
        "Upload",
        st.one_of(
            st.sampled_from(sorted(upload_files())).map(
                lambda kind: nodes.String(UPLOAD_PLACEHOLDER + kind)
            ),
            # What a confused client sends inline instead of a file part.
            st.text(max_size=20).map(nodes.String),
            st.integers().map(nodes.Int),
        ),
    )
    schemathesis.graphql.scalar(
        "ID",
        st.one_of(
            st.sampled_from([i for image in own for i in image]).map(nodes.String),
            st.sampled_from(["a\x00b", "", "-1", "../x"]).map(nodes.String),
            st.text(max_size=100).map(nodes.String),
            st.integers().map(nodes.Int),
        ),
    )
    yield schemathesis.graphql.from_url(
        f"{live.url}/graphql", headers=live.headers(FUZZ_OWNER), timeout=30
    )


def judge(case: schemathesis.Case, response: httpx.Response) -> None:
    """Schemathesis' checks, where an error the server means to show is an answer, not a fault.

    Such errors carry a stable `extensions.code`; a masked error ("Internal server error.")
    or any error without a code is a server fault, and so is a 5xx.
    """
    assert response.status_code < 500, (case.body, response.text[:500])
    # Malformed JSON, a non-object response, null in a non-null field.
    case.operation.validate_response(response, case=case)
    try:
        case.validate_response(response, checks=[not_a_server_error])
    except FailureGroup as group:
        faults = [
            failure
            for failure in group.exceptions
            if not (
                isinstance(failure, GraphQLServerError)
                and all(
                    error.get("extensions", {}).get("code") in CODES for error in failure.errors
                )
            )
        ]
        if faults:
            raise


def target_upload(live: Target, data: bytes) -> tuple[str, str]:
    image = live.upload(FUZZ_OWNER, data).json()["data"]["uploadMeImage"]
    assert image["__typename"] == "MeImage", image
    return image["id"], image["mediaId"]


def test_fuzzing_covers_every_root_field(
    fuzzing: GraphQLSchema,
) -> None:
    operations = {result.ok().label for result in fuzzing.get_all_operations()}
    assert operations == set(root_fields())


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("field", root_fields())
def test_no_server_error(
    live: Target,
    fuzzing: GraphQLSchema,
    field: str,
    mode: GenerationMode,
) -> None:
    root, name = field.split(".")
    operation = fuzzing[root][name]
    key = f"{field} {mode.value} {live.backend}"
    FUZZ_REQUESTS[key] = 0

    with live.client() as http:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=SEED is None,
            database=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            response = send(http, live, str(case.body))
            FUZZ_REQUESTS[key] += 1
            judge(case, response)

        (seed(int(SEED))(fuzz) if SEED is not None else fuzz)()
    assert live.healthy()
