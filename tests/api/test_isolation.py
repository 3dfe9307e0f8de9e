"""One owner can never read, change or detect another owner's images or media; spaces are separate."""

from __future__ import annotations

import uuid
from typing import Any

from testbed.images import jpeg
from tests.support.app import Api

BY_ID = {
    "meImage": ("query($id: ID!) { meImage(id: $id) { id } }", {}),
    "updateMeImage": (
        'mutation($id: ID!) { updateMeImage(id: $id, input: {label: "pwned"}) { __typename ... on Error { code message } } }',
        {},
    ),
    "setAiReferenceEnabled": (
        "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename ... on Error { code message } } }",
        {},
    ),
    "setPrimary": (
        "mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF) { __typename ... on Error { code message } } }",
        {},
    ),
    "deleteMeImage": (
        "mutation($id: ID!) { deleteMeImage(id: $id) { __typename ... on Error { code message } } }",
        {},
    ),
}

SNAPSHOT = (
    "{ meImages { id label tags kind primaryFor usage { aiReference showInProfile } updatedAt } }"
)


async def answers(api: Api, user: str, image_id: str, space: str | None = None) -> dict[str, Any]:
    return {
        name: await api.gql(query, {"id": image_id}, user=user, space=space)
        for name, (query, _) in BY_ID.items()
    }


async def test_foreign_id_answers_exactly_like_a_random_id(
    api: Api, owner: str, other_owner: str
) -> None:
    upload = await api.upload(
        jpeg(21), user=other_owner, input={"label": "theirs", "primaryFor": "AVATAR"}
    )
    before = await api.gql(SNAPSHOT, user=other_owner)

    foreign = await answers(api, owner, upload["id"])
    random = await answers(api, owner, str(uuid.uuid4()))
    garbage = await answers(api, owner, "../../etc/passwd")
    assert foreign == random == garbage
    assert foreign["meImage"] == {"meImage": None}
    assert foreign["deleteMeImage"]["deleteMeImage"] == {
        "__typename": "NotFoundError",
        "code": "NOT_FOUND",
        "message": "MeImage not found",
    }
    # Nothing of the victim changed, and the attacker sees nothing of theirs.
    assert await api.gql(SNAPSHOT, user=other_owner) == before
    assert (await api.gql("{ meImages { id } referenceImages { id } }", user=owner)) == {
        "meImages": [],
        "referenceImages": [],
    }
    assert (await api.gql("{ profile { avatar { id } } }", user=owner))["profile"]["avatar"] is None


async def test_foreign_media_id_cannot_be_claimed(api: Api, owner: str, other_owner: str) -> None:
    upload = await api.upload(jpeg(22), user=other_owner)
    create = "mutation($m: ID!) { createMeImage(input: {mediaId: $m}) { __typename ... on Error { code message } } }"
    foreign = await api.gql(create, {"m": upload["mediaId"]}, user=owner)
    random = await api.gql(create, {"m": str(uuid.uuid4())}, user=owner)
    assert foreign == random
    assert foreign["createMeImage"]["code"] == "NOT_FOUND"


async def test_same_bytes_of_two_owners_are_separate_media(
    api: Api, owner: str, other_owner: str
) -> None:
    data = jpeg(23)
    mine = await api.upload(data, user=owner)
    theirs = await api.upload(data, user=other_owner)
    assert mine["mediaId"] != theirs["mediaId"]
    assert mine["storagePath"] != theirs["storagePath"]


async def test_media_url_of_another_owner_with_their_token_is_not_found(
    api: Api, owner: str, other_owner: str
) -> None:
    upload = await api.upload(jpeg(24), user=other_owner)
    path = upload["publicUrl"].split("?")[0]
    # No signature, attacker's token: same 404 as a media id that does not exist.
    foreign = await api.client.get(path, headers=api.headers(owner))
    missing = await api.client.get(f"/media/{uuid.uuid4()}/original", headers=api.headers(owner))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    # The owner's own token works without a signature.
    own = await api.client.get(path, headers=api.headers(other_owner))
    assert own.status_code == 200


async def test_spaces_are_strictly_separate_pools(api: Api, owner: str) -> None:
    personal = await api.upload(jpeg(25), user=owner, input={"primaryFor": "FACE_REF"})
    brand = await api.upload(
        jpeg(26), user=owner, space="brand-1", input={"primaryFor": "FACE_REF"}
    )
    assert personal["primaryFor"] == brand["primaryFor"] == "FACE_REF"  # one holder per space
    mine = await api.gql("{ meImages { id } }", user=owner)
    in_brand = await api.gql("{ meImages { id } }", user=owner, space="brand-1")
    assert [i["id"] for i in mine["meImages"]] == [personal["id"]]
    assert [i["id"] for i in in_brand["meImages"]] == [brand["id"]]
    # No fallback: an id of the personal pool is not found from the brand space.
    cross = await answers(api, owner, personal["id"], space="brand-1")
    assert cross == await answers(api, owner, str(uuid.uuid4()), space="brand-1")
    assert (await api.gql("{ profile { spaceId avatar { id } } }", user=owner, space="brand-1"))[
        "profile"
    ] == {
        "spaceId": "brand-1",
        "avatar": {"id": brand["id"]},
    }


CREATE = "mutation($m: ID!) { createMeImage(input: {mediaId: $m}) { __typename ... on Error { code message } } }"


async def rest_upload(api: Api, owner: str, seed: int, space: str | None = None) -> dict[str, Any]:
    response = await api.client.post(
        "/api/v1/profile/me-images/upload",
        files={"file": ("p.jpg", jpeg(seed), "image/jpeg")},
        headers=api.headers(owner, space),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_media_of_another_space_cannot_be_attached(api: Api, owner: str) -> None:
    personal = await rest_upload(api, owner, 27)
    brand = await rest_upload(api, owner, 28, space="brand-2")
    random = str(uuid.uuid4())
    # Personal media from the brand space, brand media from the personal space: unknown.
    into_brand = await api.gql(CREATE, {"m": personal["mediaId"]}, user=owner, space="brand-2")
    assert into_brand == await api.gql(CREATE, {"m": random}, user=owner, space="brand-2")
    into_personal = await api.gql(CREATE, {"m": brand["mediaId"]}, user=owner)
    assert into_personal == await api.gql(CREATE, {"m": random}, user=owner)
    assert into_brand["createMeImage"]["code"] == into_personal["createMeImage"]["code"]
    assert into_brand["createMeImage"]["code"] == "NOT_FOUND"
    # Each space attaches its own.
    mine = await api.gql(CREATE, {"m": brand["mediaId"]}, user=owner, space="brand-2")
    assert mine["createMeImage"]["__typename"] == "MeImage"
    assert (await api.gql("{ meImages { id } }", user=owner))["meImages"] == []


async def test_media_of_another_space_cannot_be_read_with_a_token(api: Api, owner: str) -> None:
    personal = await rest_upload(api, owner, 29)
    brand = await rest_upload(api, owner, 30, space="brand-3")
    missing = await api.client.get(
        f"/media/{uuid.uuid4()}/original", headers=api.headers(owner, "brand-3")
    )
    for body, wrong_space, right_space in (
        (personal, "brand-3", None),
        (brand, None, "brand-3"),
    ):
        path = body["publicUrl"].split("?")[0]
        cross = await api.client.get(path, headers=api.headers(owner, wrong_space))
        assert cross.status_code == missing.status_code == 404
        assert cross.content == missing.content
        own = await api.client.get(path, headers=api.headers(owner, right_space))
        assert own.status_code == 200
