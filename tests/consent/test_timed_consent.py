"""Consent for a time: the opt-in lapses at `until` by the server's clock (moved by hand
here, never slept on), at send time and in every answer, and the lapse is logged once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

from resolvers.events import cursors, feed
from resolvers.pool import consent
from resolvers.stores import Caller
from storage.eventlog.payload import EventPayload, EventType
from tests.consent.conftest import HandClock, ledger_rows, toggles
from tests.generation.conftest import add_reference, balance, blobs_patched, generate, grant
from tests.support.app import Api, running_api
from tests.support.provider_server import ProviderServer

SET = """
mutation($id: ID!, $enabled: Boolean!, $until: DateTime) {
  setAiReferenceEnabled(id: $id, enabled: $enabled, until: $until) {
    __typename
    ... on MeImage { usage { aiReference aiReferenceUntil } }
    ... on InvalidInputError { code field message }
  }
}
"""
USAGE = "query($id: ID!) { meImage(id: $id) { usage { aiReference aiReferenceUntil } } }"
REFERENCES = "{ referenceImages { id } }"


def _iso(when: datetime) -> str:
    return when.isoformat()


async def _set(api: Api, owner: str, image_id: str, enabled: bool, until: Any = None) -> Any:
    variables = {"id": image_id, "enabled": enabled, "until": until}
    return (await api.gql(SET, variables, user=owner))["setAiReferenceEnabled"]


async def _timed_reference(
    api: Api, owner: str, seed: int, clock: HandClock, seconds: float = 5
) -> dict[str, Any]:
    image = await add_reference(api, owner, seed, opt_in=False)
    until = clock.now() + timedelta(seconds=seconds)
    set_ = await _set(api, owner, image["id"], True, _iso(until))
    assert set_["usage"] == {"aiReference": True, "aiReferenceUntil": _iso(until)}
    return image


async def test_a_generation_before_until_sends_and_after_it_does_not(
    gen_api: Api, owner: str, provider: ProviderServer, clock: HandClock
) -> None:
    image = await _timed_reference(gen_api, owner, 401, clock)
    await grant(gen_api, owner, 50)
    clock.advance(4)
    sent = await generate(gen_api, owner, [image["id"]])
    assert sent["__typename"] == "Generation" and len(provider.requests) == 1

    clock.advance(2)  # one second past `until`
    refused = await generate(gen_api, owner, [image["id"]])
    assert refused["__typename"] == "ReferenceNotUsableError"
    assert refused["referenceIds"] == [image["id"]]
    assert len(provider.requests) == 1  # nothing more reached the provider
    assert len(await ledger_rows(gen_api, owner)) == 1
    assert await balance(gen_api, owner) == 40
    # The lapse is written down once, as the provider-independent fact it is.
    assert (await toggles(gen_api, owner))[-1] == {
        "image": image["id"],
        "enabled": False,
        "expired": True,
    }
    usage = (await gen_api.gql(USAGE, {"id": image["id"]}, user=owner))["meImage"]["usage"]
    assert usage == {"aiReference": False, "aiReferenceUntil": None}


async def test_the_first_read_after_until_lapses_it_once_even_from_the_query_cache(
    gen_api: Api, owner: str, provider: ProviderServer, clock: HandClock
) -> None:
    image = await _timed_reference(gen_api, owner, 411, clock, seconds=3)
    untimed = await add_reference(gen_api, owner, 412)
    # The same query twice: the second answer comes from the query cache.
    for _ in range(2):
        listed = await gen_api.gql(REFERENCES, user=owner)
        assert {i["id"] for i in listed["referenceImages"]} == {image["id"], untimed["id"]}
    cache = gen_api.app.state.query_cache
    assert cache is not None and cache.hits >= 1
    hits = cache.hits

    clock.advance(3)  # exactly `until`: lapsed
    for _ in range(3):
        listed = await gen_api.gql(REFERENCES, user=owner)
        assert [i["id"] for i in listed["referenceImages"]] == [untimed["id"]]
    # The new answer is cached in its turn: the lapse bumped the data version once.
    assert cache.hits == hits + 2
    expired = [t for t in await toggles(gen_api, owner) if t.get("expired")]
    assert expired == [{"image": image["id"], "enabled": False, "expired": True}]
    assert provider.requests == []


async def test_the_lapse_reaches_subscribers_as_an_expired_toggle(
    gen_api: Api, owner: str, clock: HandClock
) -> None:
    image = await _timed_reference(gen_api, owner, 421, clock)
    stores = gen_api.stores
    start = await cursors.head_cursor(stores, Caller(owner))
    clock.advance(10)
    assert await consent.lapse_all_due(stores) >= 1
    replay = feed.follow(stores, Caller(owner), start)
    try:
        event = await asyncio.wait_for(anext(replay), timeout=30)
    finally:
        await replay.aclose()
    assert (event.image_id, event.enabled, event.expired) == (image["id"], False, True)
    assert event.image is not None and event.image.ai_reference is False


async def test_lapsing_is_exactly_once_across_instances(
    gen_api: Api, owner: str, clock: HandClock
) -> None:
    """Two servers on one database sweep and read at once: one lapse event per image."""
    images = [await _timed_reference(gen_api, owner, seed, clock) for seed in (431, 432)]
    clock.advance(6)
    async with running_api(gen_api.settings, gen_api.backend) as second:
        second.stores.clock = clock
        await asyncio.gather(
            *(consent.lapse_due(api.stores, owner) for api in (gen_api, second) for _ in range(3)),
            gen_api.gql(REFERENCES, user=owner),
            second.gql(REFERENCES, user=owner),
        )
    expired = [t["image"] for t in await toggles(gen_api, owner) if t.get("expired")]
    assert sorted(expired) == sorted(i["id"] for i in images)
    assert await consent.lapse_all_due(gen_api.stores) == 0


async def test_until_is_checked_again_at_send_time(
    gen_api: Api, owner: str, provider: ProviderServer, clock: HandClock
) -> None:
    """`until` passes while the references are being read: nothing is sent."""
    image = await _timed_reference(gen_api, owner, 441, clock)
    await grant(gen_api, owner, 10)
    real = gen_api.stores.blobs

    async def read_while_time_passes(key: str) -> bytes | None:
        clock.advance(60)
        return await real.get(key)

    with blobs_patched(gen_api, get=read_while_time_passes):
        result = await generate(gen_api, owner, [image["id"]])
    assert result["__typename"] == "ReferenceNotUsableError"
    assert provider.requests == [] and await ledger_rows(gen_api, owner) == []
    assert await balance(gen_api, owner) == 10


async def test_without_until_it_lasts_and_a_new_toggle_clears_until(
    gen_api: Api, owner: str, provider: ProviderServer, clock: HandClock
) -> None:
    image = await _timed_reference(gen_api, owner, 451, clock)
    forever = await _set(gen_api, owner, image["id"], True)
    assert forever["usage"] == {"aiReference": True, "aiReferenceUntil": None}
    clock.advance(365 * 24 * 3600)
    await grant(gen_api, owner, 10)
    assert (await generate(gen_api, owner, [image["id"]]))["__typename"] == "Generation"
    assert [t.get("expired", False) for t in await toggles(gen_api, owner)] == [False, False]


async def test_a_bad_until_is_invalid_input_and_changes_nothing(
    gen_api: Api, owner: str, clock: HandClock
) -> None:
    image = await add_reference(gen_api, owner, 461, opt_in=False)
    past = _iso(clock.now() - timedelta(seconds=1))
    now = _iso(clock.now())
    for enabled, until in ((True, past), (True, now), (False, _iso(clock.now() + timedelta(1)))):
        result = await _set(gen_api, owner, image["id"], enabled, until)
        assert result["__typename"] == "InvalidInputError"
        assert (result["code"], result["field"]) == ("INVALID_INPUT", "until")
    response = await gen_api.post(
        SET, {"id": image["id"], "enabled": True, "until": "next tuesday"}, user=owner
    )
    assert response.status_code == 200 and "errors" in response.json()
    assert "Traceback" not in response.text
    usage = (await gen_api.gql(USAGE, {"id": image["id"]}, user=owner))["meImage"]["usage"]
    assert usage == {"aiReference": False, "aiReferenceUntil": None}
    assert await toggles(gen_api, owner) == []


async def test_an_offset_is_kept_as_the_same_moment(
    gen_api: Api, owner: str, clock: HandClock
) -> None:
    image = await add_reference(gen_api, owner, 471, opt_in=False)
    moment = (clock.now() + timedelta(hours=2)).replace(microsecond=0)
    in_berlin = moment.astimezone(timezone(timedelta(hours=2)))
    result = await _set(gen_api, owner, image["id"], True, in_berlin.isoformat())
    stored = datetime.fromisoformat(result["usage"]["aiReferenceUntil"])
    assert stored == moment and stored.utcoffset() == timedelta(0)


async def test_another_owners_clocked_consent_is_theirs_alone(
    gen_api: Api, owner: str, other_owner: str, clock: HandClock
) -> None:
    image = await _timed_reference(gen_api, owner, 481, clock)
    later = _iso(clock.now() + timedelta(days=1))
    foreign = await _set(gen_api, other_owner, image["id"], True, later)
    assert foreign == {"__typename": "NotFoundError"}
    clock.advance(10)
    # Another owner's reads lapse nothing of this owner's...
    assert (await gen_api.gql(REFERENCES, user=other_owner))["referenceImages"] == []
    assert await toggles(gen_api, other_owner) == []
    assert [t.get("expired", False) for t in await toggles(gen_api, owner)] == [False]
    # ...the owner's own first read does.
    assert (await gen_api.gql(REFERENCES, user=owner))["referenceImages"] == []
    assert [t.get("expired", False) for t in await toggles(gen_api, owner)] == [False, True]


def test_only_a_lapse_writes_expired_and_it_reads_back() -> None:
    lapse = EventPayload(enabled=False, expired=True)
    assert lapse.encode(EventType.AI_REFERENCE_TOGGLED) == {"enabled": False, "expired": True}
    assert EventPayload.decode(lapse.encode(EventType.AI_REFERENCE_TOGGLED)) == lapse
    switched = EventPayload(enabled=False)
    assert switched.encode(EventType.AI_REFERENCE_TOGGLED) == {"enabled": False}
    assert EventPayload.decode({"enabled": True}).expired is False
