"""The owner's AI switch is an event of the same feed: in commit order with the image
events, in every space of the owner, resumable by cursor, and to nobody else."""

from __future__ import annotations

from typing import Any

import httpx

from testbed.server import LiveServer
from testbed.wire import init, receive, subscribe, ws_connection
from tests.events.conftest import event_cursor, new_owner, set_ai, upload

FIELDS = """
  __typename
  ... on MeImageEvent { type imageId enabled cursor }
  ... on AiUsesReferenceImagesEvent { aiUsesReferenceImages occurredAt cursor }
  ... on Error { code message }
"""
QUERY = f"subscription($after: String) {{ meImageEvents(after: $after) {{ {FIELDS} }} }}"
SWITCH = (
    "mutation($on: Boolean!) { setAiUsesReferenceImages(enabled: $on) { aiUsesReferenceImages } }"
)


async def switch(http: httpx.AsyncClient, live: LiveServer, on: bool, *, user: str) -> None:
    data = await live.graphql(http).gql(SWITCH, {"on": on}, user=user)
    assert data["setAiUsesReferenceImages"]["aiUsesReferenceImages"] is on


async def collect(
    live: LiveServer, user: str, after: str, count: int, space: str | None = None
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    async with ws_connection(live.ws_url) as ws:
        assert (await init(ws, live.token(user, space)))["type"] == "connection_ack"
        await subscribe(ws, "s", QUERY, {"after": after})
        while len(items) < count:
            message = await receive(ws)
            assert message["type"] == "next", message
            items.append(message["payload"]["data"]["meImageEvents"])
    return items


async def test_switch_is_logged_in_order_in_every_space_and_only_for_its_owner(
    live: LiveServer, http: httpx.AsyncClient
) -> None:
    owner, other = new_owner(), new_owner("other")
    start = await event_cursor(http, live, user=owner)
    club_start = await event_cursor(http, live, user=owner, space="club")
    other_start = await event_cursor(http, live, user=other)
    image = (await upload(http, live, 61, user=owner))["id"]
    await upload(http, live, 62, user=owner, space="club")
    await switch(http, live, False, user=owner)
    await switch(http, live, False, user=owner)  # no change, no event
    await set_ai(http, live, image, True, user=owner)
    await switch(http, live, True, user=owner)
    await upload(http, live, 63, user=other)

    items = await collect(live, owner, start, 4)
    assert [i["__typename"] for i in items] == [
        "MeImageEvent",
        "AiUsesReferenceImagesEvent",
        "MeImageEvent",
        "AiUsesReferenceImagesEvent",
    ]
    assert [items[1]["aiUsesReferenceImages"], items[3]["aiUsesReferenceImages"]] == [False, True]
    assert items[2]["imageId"] == image

    # Resuming right after the first switch replays what followed it, exactly.
    resumed = await collect(live, owner, items[1]["cursor"], 2)
    assert resumed == items[2:]

    # The switch is the owner's: the club space hears both changes too.
    club = await collect(live, owner, club_start, 3, space="club")
    assert [(i["__typename"], i.get("aiUsesReferenceImages")) for i in club[1:]] == [
        ("AiUsesReferenceImagesEvent", False),
        ("AiUsesReferenceImagesEvent", True),
    ]
    # Another owner's feed holds only its own image.
    theirs = await collect(live, other, other_start, 1)
    assert theirs[0]["__typename"] == "MeImageEvent"


DELETE_MY_DATA = (
    'mutation { deleteMyData(confirmation: "DELETE MY DATA") { __typename '
    "... on MyDataDeleted { images dataKeysDestroyed } } }"
)


async def test_open_sessions_of_a_person_who_deletes_everything_go_on_with_nothing_old(
    live: LiveServer, http: httpx.AsyncClient
) -> None:
    """A page left open while its owner deletes everything: its stream survives, replays
    nothing of the erased past, and carries what comes after; others hear nothing."""
    owner, other = new_owner(), new_owner("other")
    start = await event_cursor(http, live, user=owner)
    other_start = await event_cursor(http, live, user=other)
    before = (await upload(http, live, 64, user=owner))["id"]
    async with ws_connection(live.ws_url) as ws:
        assert (await init(ws, live.token(owner)))["type"] == "connection_ack"
        await subscribe(ws, "s", QUERY, {"after": start})
        first = await receive(ws)
        assert first["payload"]["data"]["meImageEvents"]["imageId"] == before
        deleted = await live.graphql(http).gql(DELETE_MY_DATA, user=owner)
        assert deleted["deleteMyData"] == {
            "__typename": "MyDataDeleted",
            "images": 1,
            "dataKeysDestroyed": True,
        }
        after = (await upload(http, live, 65, user=owner))["id"]
        # The same open stream: the next item is the new image, nothing of the erased pool.
        nxt = await receive(ws)
        assert nxt["type"] == "next", nxt
        assert nxt["payload"]["data"]["meImageEvents"]["imageId"] == after
    # Resuming from before the deletion replays only what came after it.
    replay = await collect(live, owner, start, 1)
    assert [i["imageId"] for i in replay] == [after]
    # Another owner's stream holds only its own image.
    await upload(http, live, 66, user=other)
    theirs = await collect(live, other, other_start, 1)
    assert theirs[0]["imageId"] not in (before, after)
