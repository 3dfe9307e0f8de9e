"""Arguments nobody would send: every tool call still ends in a tool result (or a JSON-RPC
error for a malformed call), never a 5xx, a masked INTERNAL error or a dropped session."""

from __future__ import annotations

import json

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from testbed.server import LiveServer
from tests.mcp.agent import message_of, new_owner

TOOLS = ["me.listReferenceImages", "me.generateWithReference", "me.getProfile"]
TOOLS += ["me.listGenerations", "me.deleteMeImage"]
KEYS = ["kind", "includeImages", "prompt", "referenceImageIds", "model", "quality", "size"]
KEYS += ["n", "idempotencyKey", "first", "after", "id", "enabled"]
# Codes a tool may answer with; INTERNAL (a masked bug) is not among them.
CODES = {"INVALID_INPUT", "NOT_FOUND", "REFERENCE_NOT_USABLE", "INSUFFICIENT_CREDITS"}
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["face", "low", "auto", "1024x1024", "openai/gpt-image-2", "", " "])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
ARGUMENTS = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), VALUES, max_size=5)
EXAMPLES = 80


class RawSession:
    def __init__(self, http: httpx.Client, server: LiveServer, user: str) -> None:
        self.http, self.url, self.next_id = http, f"{server.url}/mcp", 0
        self.headers = {**server.headers(user), "Accept": "application/json, text/event-stream"}
        opened = self.send(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "fuzz", "version": "0"},
            },
        )
        self.headers["mcp-session-id"] = opened.headers["mcp-session-id"]
        self.headers["mcp-protocol-version"] = "2025-06-18"
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert http.post(self.url, json=initialized, headers=self.headers).status_code == 202

    def send(self, method: str, params: object) -> httpx.Response:
        self.next_id += 1
        body = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        reply = self.http.post(self.url, json=body, headers=self.headers)
        assert reply.status_code == 200, reply.text
        return reply


def test_fuzzed_tool_calls(mcp_server: LiveServer) -> None:
    with httpx.Client(timeout=60) as http:
        session = RawSession(http, mcp_server, new_owner())
        seen: set[str] = set()

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(tool=st.sampled_from(TOOLS), arguments=ARGUMENTS | VALUES)
        def fuzz(tool: str, arguments: object) -> None:
            message = message_of(session.send("tools/call", {"name": tool, "arguments": arguments}))
            if "error" in message:  # not a call at all (arguments that are no object)
                assert not isinstance(arguments, dict), message
                return
            result = message["result"]
            if result["isError"]:
                assert "structuredContent" not in result, result
                code = json.loads(result["content"][0]["text"])["error"]["code"]
                assert code in CODES, (tool, arguments, result)
                seen.add(code)

        fuzz()
        # Still one healthy session at the end.
        alive = message_of(session.send("tools/call", {"name": "me.getProfile", "arguments": {}}))
        assert alive["result"]["isError"] is False
    assert "INVALID_INPUT" in seen
