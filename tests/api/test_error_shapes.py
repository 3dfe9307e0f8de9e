"""One error shape: every refusal of /graphql is a GraphQL error body with a stable
`extensions.code`, in the media type the client accepts (GraphQL over HTTP's
`application/graphql-response+json` when it lists it, JSON otherwise), and no message
speaks Python."""

from __future__ import annotations

from typing import Any

import pytest

from testbed.graphql import PREFLIGHT
from tests.support.app import Api

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def refusal(
    api: Api, owner: str, accept: str, method: str = "POST", **request: Any
) -> tuple[int, str, dict[str, Any]]:
    headers = {**api.headers(owner), "Accept": accept, **request.pop("headers", {})}
    response = await api.client.request(method, "/graphql", headers=headers, **request)
    return response.status_code, response.headers["content-type"], response.json()


CASES: dict[str, tuple[dict[str, Any], int, str]] = {
    "parse": ({"json": {"query": "{ meImages { id "}}, 400, "GRAPHQL_PARSE_FAILED"),
    "validation": ({"json": {"query": "{ profile }"}}, 400, "GRAPHQL_VALIDATION_FAILED"),
    "variables": (
        {
            "json": {
                "query": "query($k: MeImageKind) { meImages(kind: $k) { id } }",
                "variables": {"k": "ELBOW"},
            }
        },
        400,
        "BAD_USER_INPUT",
    ),
    "null for a non-null variable": (
        {
            "json": {
                "query": "query($f: Int!) { generations(first: $f) { __typename } }",
                "variables": {"f": None},
            }
        },
        400,
        "BAD_USER_INPUT",
    ),
    # A scalar that refuses a value (Upload: only a file part of a multipart request) is
    # the client's mistake, told as such, never a masked fault.
    "upload written in the document": (
        {"json": {"query": 'mutation { uploadMeImage(file: "x") { __typename } }'}},
        400,
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "upload sent as a JSON variable": (
        {
            "json": {
                "query": "mutation($f: Upload!) { uploadMeImage(file: $f) { __typename } }",
                "variables": {"f": "x"},
            }
        },
        400,
        "BAD_USER_INPUT",
    ),
    "unknown operation": (
        {"json": {"query": "query A { profile { ownerId } }", "operationName": "B"}},
        400,
        "OPERATION_RESOLUTION_FAILURE",
    ),
    "csrf": (
        {"method": "GET", "params": {"query": "{ profile { ownerId } }"}, "headers": {}},
        400,
        "CSRF_PREFLIGHT_REQUIRED",
    ),
    "subscription over POST": (
        {"json": {"query": "subscription { meImageEvents { __typename } }"}},
        400,
        "SUBSCRIPTION_NEEDS_STREAM",
    ),
    "malformed JSON": (
        {"content": b'{"query": ', "headers": {"Content-Type": "application/json"}},
        400,
        "BAD_REQUEST",
    ),
    "no query": ({"json": {"variables": {}}}, 400, "BAD_REQUEST"),
    "wrong method": (
        {"method": "PUT", "json": {"query": "{ profile { ownerId } }"}},
        405,
        "METHOD_NOT_ALLOWED",
    ),
    "mutation over GET": (
        {
            "method": "GET",
            "params": {"query": 'mutation { deleteMeImage(id: "x") { __typename } }'},
            "headers": PREFLIGHT,
        },
        405,
        "METHOD_NOT_ALLOWED",
    ),
    "no token": (
        {"json": {"query": "{ profile { ownerId } }"}, "headers": {"Authorization": "Bearer x"}},
        401,
        "UNAUTHENTICATED",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, "application/json"])
async def test_each_refusal_is_a_coded_graphql_error_in_the_media_type_asked_for(
    api: Api, owner: str, case: str, accept: str
) -> None:
    request, graphql_response_status, code = CASES[case]
    status, content_type, body = await refusal(api, owner, accept, **dict(request))
    assert content_type.split(";")[0] == accept, (case, content_type)
    errors = body["errors"]
    assert [e["extensions"]["code"] for e in errors] == [code], body
    assert all("None" not in e["message"] for e in errors), body
    if accept == GRAPHQL_RESPONSE or graphql_response_status != 400:
        assert status == graphql_response_status, (case, status, body)
    else:
        # application/json: a request error after parsing the body is still a 200
        # (GraphQL over HTTP's legacy rule); refusals before it keep their 4xx.
        assert status in (200, 400), (case, status, body)
    assert "data" not in body or body["data"] is None
