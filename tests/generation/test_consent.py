"""The server's consent rules: a reference that fails any of them is never sent."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from resolvers.generation.errors import ReferenceNotUsable
from tests.generation.conftest import (
    add_reference,
    balance,
    blobs_patched,
    generate,
    grant,
    history_ids,
)
from tests.support.app import Api
from tests.support.provider_server import ProviderServer

Case = Callable[[Api, str, str], Awaitable[tuple[str, list[str] | None]]]


async def not_opted_in(api: Api, owner: str, other: str) -> tuple[str, list[str] | None]:
    image = await add_reference(api, owner, 21, opt_in=False)
    return image["id"], None


async def opted_out_again(api: Api, owner: str, other: str) -> tuple[str, list[str] | None]:
    image = await add_reference(api, owner, 22)
    await api.gql(
        "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: false) { __typename } }",
        {"id": image["id"]},
        user=owner,
    )
    return image["id"], None


async def deleted(api: Api, owner: str, other: str) -> tuple[str, list[str] | None]:
    image = await add_reference(api, owner, 23)
    await api.gql(
        "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }",
        {"id": image["id"]},
        user=owner,
    )
    return image["id"], None


async def foreign(api: Api, owner: str, other: str) -> tuple[str, list[str] | None]:
    # Opted in by its owner: consent is personal, it does not travel to other callers.
    image = await add_reference(api, other, 24)
    return image["id"], None


async def other_space(api: Api, owner: str, other: str) -> tuple[str, list[str] | None]:
    image = await add_reference(api, owner, 25, space="club")
    return image["id"], None


async def unknown(api: Api, owner: str, other: str) -> tuple[str, list[str] | None]:
    return str(uuid.uuid4()), None


async def garbage(api: Api, owner: str, other: str) -> tuple[str, list[str] | None]:
    return "'; DROP TABLE me_image; --", None


async def kill_switch(api: Api, owner: str, other: str) -> tuple[str, list[str] | None]:
    image = await add_reference(api, owner, 26)
    await api.gql(
        "mutation { setAiUsesReferenceImages(enabled: false) { aiUsesReferenceImages } }",
        user=owner,
    )
    return image["id"], ["good", image["id"]]


CASES: dict[str, Case] = {
    "not-opted-in": not_opted_in,
    "opted-out-again": opted_out_again,
    "deleted": deleted,
    "foreign": foreign,
    "other-space": other_space,
    "unknown-id": unknown,
    "garbage-id": garbage,
    "kill-switch": kill_switch,
}


@pytest.mark.parametrize("case", list(CASES))
async def test_unusable_reference_is_refused_and_never_sent(
    gen_api: Api, owner: str, other_owner: str, provider: ProviderServer, case: str
) -> None:
    good = await add_reference(gen_api, owner, 20)
    await grant(gen_api, owner, 50)
    bad, refused = await CASES[case](gen_api, owner, other_owner)
    result = await generate(gen_api, owner, [good["id"], bad])
    expected: list[str] = [good["id"] if r == "good" else r for r in (refused or [bad])]
    # One answer for every rule: same code, same message, only the ids differ.
    assert result == {
        "__typename": "ReferenceNotUsableError",
        "code": "REFERENCE_NOT_USABLE",
        "message": ReferenceNotUsable.MESSAGE,
        "referenceIds": expected,
    }
    assert provider.requests == []
    assert await balance(gen_api, owner) == 50
    assert await history_ids(gen_api, owner) == []


# Consent withdrawn while the references are being prepared (after the request's check,
# before the send): per image, or for every image at once with the kill switch.
WITHDRAWALS = {
    "opt-out": (
        "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: false) "
        "{ ... on MeImage { usage { aiReference } } } }",
        lambda answer: answer["setAiReferenceEnabled"]["usage"]["aiReference"],
    ),
    "kill-switch": (
        "mutation { setAiUsesReferenceImages(enabled: false) { aiUsesReferenceImages } }",
        lambda answer: answer["setAiUsesReferenceImages"]["aiUsesReferenceImages"],
    ),
}


@pytest.mark.parametrize("withdrawal", list(WITHDRAWALS))
async def test_consent_is_checked_again_at_send_time(
    gen_api: Api, owner: str, provider: ProviderServer, withdrawal: str
) -> None:
    """The owner withdraws consent while the references are being prepared: nothing is
    sent, nothing is charged."""
    ref = await add_reference(gen_api, owner, 27)
    await grant(gen_api, owner, 10)
    mutation, still_on = WITHDRAWALS[withdrawal]
    toggled: list[Any] = []
    real = gen_api.stores.blobs

    async def read_then_withdraw(key: str) -> bytes | None:
        data = await real.get(key)
        if not toggled:
            variables = {"id": ref["id"]} if "$id" in mutation else None
            toggled.append(await gen_api.gql(mutation, variables, user=owner))
        return data

    with blobs_patched(gen_api, get=read_then_withdraw):
        result = await generate(gen_api, owner, [ref["id"]])
    # The withdrawal happened mid-flight (after the request's own consent check).
    assert toggled and still_on(toggled[0]) is False
    assert result["__typename"] == "ReferenceNotUsableError", result
    assert provider.requests == []
    assert await balance(gen_api, owner) == 10
    assert await history_ids(gen_api, owner) == []


async def test_kill_switch_back_on_restores_use(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 28)
    await grant(gen_api, owner, 10)
    switch = "mutation($on: Boolean!) { setAiUsesReferenceImages(enabled: $on) { __typename } }"
    await gen_api.gql(switch, {"on": False}, user=owner)
    assert (await generate(gen_api, owner, [ref["id"]]))["__typename"] == (
        "ReferenceNotUsableError"
    )
    await gen_api.gql(switch, {"on": True}, user=owner)
    result = await generate(gen_api, owner, [ref["id"]])
    assert result["__typename"] == "Generation", result
    assert len(provider.requests) == 1


async def test_images_of_another_space_work_only_there(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    club = await add_reference(gen_api, owner, 29, space="club")
    await grant(gen_api, owner, 10)
    result = await generate(gen_api, owner, [club["id"]], space="club")
    assert result["__typename"] == "Generation", result
    # The history is per space, too.
    assert await history_ids(gen_api, owner) == []
    assert await history_ids(gen_api, owner, space="club") == [result["id"]]
