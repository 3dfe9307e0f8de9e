"""Response bodies and event frames are written by orjson, with the standard library
taking what orjson refuses: the same JSON either way."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from api.views.graphql import compact_json
from testbed.images import jpeg
from tests.support.app import Api

VALUES: list[Any] = [
    {"data": {"meImages": []}},
    {"data": None, "errors": [{"message": "Internal server error.", "path": ["a", 0, "b"]}]},
    {"s": 'quote " backslash \\ slash / tab \t newline \n nul \x00 del \x7f'},
    {"s": "é ü ß 中文 😀 \u2028 \u2029 \ufeff"},
    {"lone surrogate": "\ud800"},
    {"ints": [0, -1, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63), 2**64 - 1]},
    {"beyond 64 bits": 2**70, "negative": -(2**70)},
    {"floats": [0.1, 1e16, 1e-7, -2.5, 1.7976931348623157e308]},
    {1: "a key that is not a string", None: "nor this", 2.5: "nor this"},
    [True, False, None, [], {}, [[[]]]],
    "a bare string",
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_a_body_is_the_json_the_standard_library_writes(value: Any) -> None:
    encoded = compact_json(value)
    assert isinstance(encoded, str)
    assert json.loads(encoded) == json.loads(json.dumps(value))
    assert "\n" not in encoded  # one line: an SSE `data:` field takes it as it is


@dataclasses.dataclass
class _Point:
    x: int


@pytest.mark.parametrize("value", [_Point(1), datetime(2026, 1, 1, tzinfo=UTC), {1, 2}, b"x"])
def test_what_the_standard_library_refuses_stays_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        json.dumps({"v": value})
    with pytest.raises(TypeError):
        compact_json({"v": value})


@pytest.mark.parametrize("api", ["sqlite"], indirect=True)
async def test_text_of_every_script_comes_back_as_sent(api: Api, owner: str) -> None:
    label = 'Été à Zürich — 東京 "quoted" \\ 😀'
    tags = ["café", "日本", "emoji 🎉"]
    image = await api.upload_image(jpeg(7), user=owner, input={"label": label, "tags": tags})
    response = await api.client.post(
        "/graphql",
        json={"query": "{ meImages { id label tags } }"},
        headers=api.headers(owner),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    listed = response.json()["data"]["meImages"]
    assert listed == [{"id": image["id"], "label": label, "tags": tags}]
    # UTF-8 as it is, not \u escapes: the body is smaller and still the same JSON.
    assert "東京".encode() in response.content
