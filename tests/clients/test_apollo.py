"""Apollo Client 4 and urql (npm, pinned), clients nobody here wrote: every kind of refusal reaches
the application as GraphQL errors with the stable `extensions.code` Apollo's error links
switch on — parse, validation, variables, a bad argument, no token, CSRF, a subscription
sent over plain HTTP."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from testbed.server import LiveServer
from tests.support.node import ROOT, ensure_node_modules

EXPECTED = {
    "parse": "GRAPHQL_PARSE_FAILED",
    "validation": "GRAPHQL_VALIDATION_FAILED",
    "variables": "BAD_USER_INPUT",
    "invalidInput": "INVALID_INPUT",
    "unauthenticated": "UNAUTHENTICATED",
    "csrf": "CSRF_PREFLIGHT_REQUIRED",
    "subscriptionOverPost": "SUBSCRIPTION_NEEDS_STREAM",
}


def _reports(script: str, live_server: LiveServer, user: str) -> dict[str, dict[str, Any]]:
    """Run tests/clients/`script` against the server; its report (a JSON line) per case."""
    ensure_node_modules()
    done = subprocess.run(
        [
            "node",
            str(ROOT / "tests" / "clients" / script),
            live_server.graphql_url,
            live_server.token(user),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return {r["case"]: r for r in map(json.loads, done.stdout.splitlines())}


def test_each_refusal_reaches_apollo_with_its_code(live_server: LiveServer) -> None:
    reports = _reports("apollo.mjs", live_server, "apollo")
    assert set(reports) == set(EXPECTED)
    for case, code in EXPECTED.items():
        report = reports[case]
        assert report["outcome"] == "CombinedGraphQLErrors", report
        assert report["codes"] == [code], report
        assert all("None" not in message for message in report["messages"]), report


URQL = {
    "validation": "GRAPHQL_VALIDATION_FAILED",
    "variables": "BAD_USER_INPUT",
    "invalidInput": "INVALID_INPUT",
    "unauthenticated": "UNAUTHENTICATED",
    "csrf": "CSRF_PREFLIGHT_REQUIRED",
}


def test_each_refusal_reaches_urql_with_its_code(live_server: LiveServer) -> None:
    reports = _reports("urql.mjs", live_server, "urql")
    assert {case: r["codes"] for case, r in reports.items()} == {
        case: [code] for case, code in URQL.items()
    }, reports
