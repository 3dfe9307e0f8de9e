"""graphql-js 16 (npm `graphql`, pinned), what most introspecting tools run, reads a live
server's introspection answer: `buildClientSchema`, then a second introspection of that
client schema, without an error; the schema it rebuilds is `schema.graphql`."""

from __future__ import annotations

import json
import subprocess

import pytest

from testbed.server import LiveServer
from tests.support.node import ROOT, ensure_node_modules

SCRIPT = ROOT / "tests" / "clients" / "introspect.mjs"


# The release the pinned tools use, and the last 16.x before graphql-js learned the
# DIRECTIVE_DEFINITION location (16.14): what most introspecting tools still bundle.
LIBRARIES = {"graphql": "16.15.0", "graphql-16-8": "16.8.1"}


def introspect(server: LiveServer, library: str, *extra: str) -> subprocess.CompletedProcess[str]:
    ensure_node_modules()
    url, token = server.graphql_url, server.token("introspector")
    return subprocess.run(
        ["node", str(SCRIPT), library, url, token, str(ROOT / "schema.graphql"), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("library", LIBRARIES)
def test_graphql_16_builds_and_introspects_the_served_schema_again(
    live_server: LiveServer, library: str
) -> None:
    done = introspect(live_server, library)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["version"] == LIBRARIES[library]
    assert report["sameAsFile"] is True
    assert "DIRECTIVE_DEFINITION" not in report["deprecatedLocations"]
    assert report["types"] > 50


@pytest.mark.parametrize("location", ["DIRECTIVE_DEFINITION"])
def test_the_check_fails_on_what_graphql_core_answers_by_itself(
    live_server: LiveServer, location: str
) -> None:
    done = introspect(live_server, "graphql-16-8", location)
    assert done.returncode != 0
    assert location in done.stderr
