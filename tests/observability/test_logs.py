"""JSON logs and request ids of a live server: one object per line, the request id taken
or made, returned, logged and put in error bodies; the owner only as a keyed hash."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from testbed.server import deployment_secrets, start_server

LIST = "query ListImages { meImages { id } }"


async def test_json_lines_carry_the_request_id_operation_and_hashed_owner(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    settings = {
        **deployment_secrets(),
        "MEIMAGES_LOG_FORMAT": "json",
        "MEIMAGES_LOG_LEVEL": "info",
    }
    server = start_server(tmp_path, settings)
    try:
        headers = server.headers("log-owner-7")
        ok = await http.post(
            server.graphql_url,
            headers={**headers, "X-Request-Id": "req-42.a:b_c"},
            json={"query": LIST, "operationName": "ListImages"},
        )
        assert ok.status_code == 200
        assert ok.headers["x-request-id"] == "req-42.a:b_c"

        bad_id = "x" * 129
        refused = await http.post(
            server.graphql_url,
            headers={**headers, "X-Request-Id": bad_id},
            json={"query": "query Broken { nope }"},
        )
        made = refused.headers["x-request-id"]
        assert made != bad_id and len(made) == 32
        assert refused.json()["errors"][0]["extensions"]["requestId"] == made

        newline = await http.get(server.url + "/healthz", headers={"X-Request-Id": "a b"})
        assert newline.headers["x-request-id"] != "a b"

        unauthenticated = await http.post(server.graphql_url, json={"query": LIST})
        assert unauthenticated.status_code == 401
        rid = unauthenticated.headers["x-request-id"]
        assert unauthenticated.json()["errors"][0]["extensions"] == {
            "code": "UNAUTHENTICATED",
            "requestId": rid,
        }
        rest = await http.post(
            server.url + "/api/v1/profile/me-images/upload",
            headers={**headers, "GraphQL-Require-Preflight": "1"},
            json={},
        )
        assert rest.status_code == 400 and len(rest.headers["x-request-id"]) == 32
    finally:
        server.stop()

    lines = [line for line in server.log.read_text().splitlines() if line.strip()]
    assert "token=" not in server.log.read_text()  # no dev-token banner among JSON lines
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    access = [e for e in entries if e["logger"] == "meimages.access"]
    listed = next(e for e in access if e.get("request_id") == "req-42.a:b_c")
    assert listed["operation"] == "ListImages"
    assert listed["operation_type"] == "query"
    assert listed["outcome"] == "ok"
    assert listed["status"] == 200 and listed["route"] == "/graphql"
    assert isinstance(listed["duration_ms"], float)
    assert len(listed["owner"]) == 16 and "log-owner-7" not in server.log.read_text()
    broken = next(e for e in access if e.get("request_id") == made)
    assert broken["outcome"] == "refused" and broken["owner"] == listed["owner"]
    # Lines written while serving a request carry its id too (the client-error line).
    assert any(e["logger"] == "meimages.http" and e.get("request_id") == made for e in entries), (
        entries
    )
    assert any(e["logger"] == "uvicorn.error" for e in entries)  # uvicorn's own lines too
