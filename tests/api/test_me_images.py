"""Every query and mutation rule of the pool, through the full ASGI app, on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.repositories.pool import is_live_media_conflict
from storage.tables import MeImage, MeImageEvent, utcnow
from testbed.images import jpeg, png, webp
from tests.support.app import BASE_URL, Api

IMAGE = """
  id kind label tags mediaId storagePath publicUrl thumbnailUrl width height contentType
  usage { aiReference showInProfile } primaryFor createdAt updatedAt
"""


async def add(api: Api, owner: str, seed: int, **input: Any) -> dict[str, Any]:
    result = await api.upload(jpeg(seed), user=owner, input=input or None)
    assert result["__typename"] == "MeImage", result
    return result


async def test_upload_defaults_opt_in_false_and_show_in_profile_true(api: Api, owner: str) -> None:
    image = await add(api, owner, 1, kind="FACE", label="Me at the beach", tags=["summer", "beach"])
    assert image["usage"] == {"aiReference": False, "showInProfile": True}
    assert image["kind"] == "FACE"
    assert image["label"] == "Me at the beach"
    assert image["tags"] == ["summer", "beach"]
    assert (image["width"], image["height"]) == (320, 240)
    assert image["primaryFor"] is None
    listed = await api.gql(f"{{ meImages {{ {IMAGE} }} }}", user=owner)
    assert [i["id"] for i in listed["meImages"]] == [image["id"]]
    # Not opted in: not a reference image.
    refs = await api.gql("{ referenceImages { id } }", user=owner)
    assert refs["referenceImages"] == []


async def test_list_by_kind_and_get_by_id(api: Api, owner: str) -> None:
    face = await add(api, owner, 2, kind="FACE")
    body = await add(api, owner, 3, kind="FULLBODY")
    faces = await api.gql("{ meImages(kind: FACE) { id } }", user=owner)
    assert [i["id"] for i in faces["meImages"]] == [face["id"]]
    got = await api.gql(
        "query($id: ID!) { meImage(id: $id) { id kind } }", {"id": body["id"]}, user=owner
    )
    assert got["meImage"] == {"id": body["id"], "kind": "FULLBODY"}


async def test_update_label_tags_kind_show_in_profile(api: Api, owner: str) -> None:
    image = await add(api, owner, 4, kind="FACE", label="old", tags=["x"])
    mutation = """
      mutation($id: ID!, $input: UpdateMeImageInput!) {
        updateMeImage(id: $id, input: $input) {
          __typename ... on MeImage { id label tags kind usage { showInProfile aiReference } updatedAt }
          ... on Error { code message }
        }
      }"""
    data = await api.gql(
        mutation,
        {
            "id": image["id"],
            "input": {
                "label": "new",
                "tags": ["a", "b", "a", " "],
                "kind": "HANDS",
                "showInProfile": False,
            },
        },
        user=owner,
    )
    updated = data["updateMeImage"]
    assert updated["label"] == "new"
    assert updated["tags"] == ["a", "b"]  # trimmed, deduplicated
    assert updated["kind"] == "HANDS"
    assert updated["usage"] == {"showInProfile": False, "aiReference": False}
    # Omitted fields stay; a null label clears.
    data = await api.gql(mutation, {"id": image["id"], "input": {"label": None}}, user=owner)
    assert data["updateMeImage"]["label"] is None
    assert data["updateMeImage"]["tags"] == ["a", "b"]
    assert data["updateMeImage"]["kind"] == "HANDS"


async def test_update_rejects_invalid_input(api: Api, owner: str) -> None:
    image = await add(api, owner, 5)
    mutation = """
      mutation($id: ID!, $input: UpdateMeImageInput!) {
        updateMeImage(id: $id, input: $input) {
          __typename ... on InvalidInputError { code field message }
        }
      }"""
    data = await api.gql(mutation, {"id": image["id"], "input": {"label": "x" * 201}}, user=owner)
    assert data["updateMeImage"] == {
        "__typename": "InvalidInputError",
        "code": "INVALID_INPUT",
        "field": "label",
        "message": "label is longer than 200 characters",
    }
    data = await api.gql(
        mutation,
        {"id": image["id"], "input": {"tags": ["t"] * 0 + [f"t{i}" for i in range(31)]}},
        user=owner,
    )
    assert data["updateMeImage"]["field"] == "tags"
    data = await api.gql(mutation, {"id": image["id"], "input": {"kind": None}}, user=owner)
    assert data["updateMeImage"]["field"] == "kind"


async def test_ai_opt_in_and_kill_switch(api: Api, owner: str) -> None:
    a = await add(api, owner, 6, kind="FACE")
    b = await add(api, owner, 7, kind="FULLBODY")
    toggle = """
      mutation($id: ID!, $on: Boolean!) {
        setAiReferenceEnabled(id: $id, enabled: $on) { ... on MeImage { id usage { aiReference } } }
      }"""
    data = await api.gql(toggle, {"id": a["id"], "on": True}, user=owner)
    assert data["setAiReferenceEnabled"]["usage"]["aiReference"] is True
    refs = await api.gql("{ referenceImages { id } }", user=owner)
    assert [i["id"] for i in refs["referenceImages"]] == [a["id"]]
    assert (await api.gql("{ referenceImages(kind: FULLBODY) { id } }", user=owner))[
        "referenceImages"
    ] == []

    # The kill switch hides every reference without touching the per-image flags.
    data = await api.gql(
        "mutation { setAiUsesReferenceImages(enabled: false) { aiUsesReferenceImages } }",
        user=owner,
    )
    assert data["setAiUsesReferenceImages"]["aiUsesReferenceImages"] is False
    assert (await api.gql("{ referenceImages { id } }", user=owner))["referenceImages"] == []
    flags = await api.gql("{ meImages { id usage { aiReference } } }", user=owner)
    assert {i["id"]: i["usage"]["aiReference"] for i in flags["meImages"]} == {
        a["id"]: True,
        b["id"]: False,
    }
    assert (await api.gql("{ profile { aiUsesReferenceImages } }", user=owner))["profile"] == {
        "aiUsesReferenceImages": False
    }
    await api.gql(
        "mutation { setAiUsesReferenceImages(enabled: true) { aiUsesReferenceImages } }", user=owner
    )
    refs = await api.gql("{ referenceImages { id } }", user=owner)
    assert [i["id"] for i in refs["referenceImages"]] == [a["id"]]
    # Opting out again removes it.
    await api.gql(toggle, {"id": a["id"], "on": False}, user=owner)
    assert (await api.gql("{ referenceImages { id } }", user=owner))["referenceImages"] == []


SET_PRIMARY = """
  mutation($id: ID!, $slot: PrimarySlot) {
    setPrimary(id: $id, slot: $slot) {
      __typename ... on MeImage { id primaryFor } ... on Error { code }
    }
  }"""


async def test_primary_slot_swap_and_clear(api: Api, owner: str) -> None:
    a = await add(api, owner, 8)
    b = await add(api, owner, 9)
    data = await api.gql(SET_PRIMARY, {"id": a["id"], "slot": "FACE_REF"}, user=owner)
    assert data["setPrimary"] == {"__typename": "MeImage", "id": a["id"], "primaryFor": "FACE_REF"}
    data = await api.gql(SET_PRIMARY, {"id": b["id"], "slot": "FACE_REF"}, user=owner)
    assert data["setPrimary"]["primaryFor"] == "FACE_REF"
    listed = await api.gql("{ meImages { id primaryFor } }", user=owner)
    assert {i["id"]: i["primaryFor"] for i in listed["meImages"]} == {
        a["id"]: None,
        b["id"]: "FACE_REF",
    }
    holder = await api.gql("{ meImageByPrimary(slot: FACE_REF) { id } }", user=owner)
    assert holder["meImageByPrimary"] == {"id": b["id"]}
    # One image can move between slots; different slots have different holders.
    await api.gql(SET_PRIMARY, {"id": a["id"], "slot": "BODY_REF"}, user=owner)
    await api.gql(SET_PRIMARY, {"id": a["id"], "slot": "AVATAR"}, user=owner)
    assert (await api.gql("{ meImageByPrimary(slot: BODY_REF) { id } }", user=owner))[
        "meImageByPrimary"
    ] is None
    # Null clears the slot on that image.
    data = await api.gql(SET_PRIMARY, {"id": b["id"], "slot": None}, user=owner)
    assert data["setPrimary"]["primaryFor"] is None
    assert (await api.gql("{ meImageByPrimary(slot: FACE_REF) { id } }", user=owner))[
        "meImageByPrimary"
    ] is None


async def test_avatar_is_derived_face_ref_then_avatar(api: Api, owner: str) -> None:
    query = "{ profile { avatar { id } avatarUrl } }"
    assert (await api.gql(query, user=owner))["profile"] == {"avatar": None, "avatarUrl": None}
    a = await add(api, owner, 10, primaryFor="AVATAR")
    profile = (await api.gql(query, user=owner))["profile"]
    assert profile["avatar"] == {"id": a["id"]}
    assert profile["avatarUrl"].startswith(f"{BASE_URL}/media/{a['mediaId']}/thumbnail?")
    f = await add(api, owner, 11, primaryFor="FACE_REF")
    assert (await api.gql(query, user=owner))["profile"]["avatar"] == {"id": f["id"]}
    await api.gql(
        "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }", {"id": f["id"]}, user=owner
    )
    assert (await api.gql(query, user=owner))["profile"]["avatar"] == {"id": a["id"]}


async def test_soft_delete_frees_slot_and_disappears(api: Api, owner: str) -> None:
    a = await add(api, owner, 12, primaryFor="BODY_REF")
    await api.gql(
        "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }",
        {"id": a["id"]},
        user=owner,
    )
    delete = "mutation($id: ID!) { deleteMeImage(id: $id) { __typename ... on DeletedMeImage { id } ... on Error { code } } }"
    data = await api.gql(delete, {"id": a["id"]}, user=owner)
    assert data["deleteMeImage"] == {"__typename": "DeletedMeImage", "id": a["id"]}
    for query in ("{ meImages { id } }", "{ referenceImages { id } }"):
        assert next(iter((await api.gql(query, user=owner)).values())) == []
    assert (await api.gql("{ meImageByPrimary(slot: BODY_REF) { id } }", user=owner))[
        "meImageByPrimary"
    ] is None
    got = await api.gql("query($id: ID!) { meImage(id: $id) { id } }", {"id": a["id"]}, user=owner)
    assert got["meImage"] is None
    # Deleting twice, or changing a deleted image, is NOT_FOUND.
    data = await api.gql(delete, {"id": a["id"]}, user=owner)
    assert data["deleteMeImage"] == {"__typename": "NotFoundError", "code": "NOT_FOUND"}
    data = await api.gql(SET_PRIMARY, {"id": a["id"], "slot": "FACE_REF"}, user=owner)
    assert data["setPrimary"]["code"] == "NOT_FOUND"
    # The row still exists (soft), with deletedAt set and no slot.
    async with api.app.state.server.stores.db.session() as session:
        row = (await session.execute(select(MeImage).where(MeImage.id == a["id"]))).scalar_one()  # type: ignore[arg-type]
    assert row.deleted_at is not None
    assert row.primary_for is None


async def test_create_me_image_from_rest_upload(api: Api, owner: str, other_owner: str) -> None:
    response = await api.client.post(
        "/api/v1/profile/me-images/upload",
        files={"file": ("x.png", png(13), "image/png")},
        headers=api.headers(owner),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) >= {"mediaId", "storagePath", "publicUrl", "thumbnailUrl"}
    create = """
      mutation($input: CreateMeImageInput!) {
        createMeImage(input: $input) {
          __typename ... on MeImage { id mediaId kind label contentType width height } ... on Error { code }
        }
      }"""
    data = await api.gql(
        create,
        {"input": {"mediaId": body["mediaId"], "kind": "HALFBODY", "label": "desk"}},
        user=owner,
    )
    assert data["createMeImage"]["__typename"] == "MeImage"
    assert data["createMeImage"]["mediaId"] == body["mediaId"]
    assert data["createMeImage"]["contentType"] == "image/png"
    # Another owner cannot create an image from this media: it does not exist for them.
    data = await api.gql(
        create, {"input": {"mediaId": body["mediaId"], "kind": "FACE"}}, user=other_owner
    )
    assert data["createMeImage"] == {"__typename": "NotFoundError", "code": "NOT_FOUND"}


async def test_all_three_formats_and_dedupe_per_owner(api: Api, owner: str) -> None:
    for maker, ctype in ((jpeg, "image/jpeg"), (png, "image/png"), (webp, "image/webp")):
        result = await api.upload(maker(14), user=owner, content_type="application/octet-stream")
        assert result["__typename"] == "MeImage", result
        assert result["contentType"] == ctype
    same = png(15)
    first = await api.upload(same, user=owner)
    second = await api.upload(same, user=owner)
    # The bytes are stored once; each upload is its own media id and its own image.
    assert first["storagePath"] == second["storagePath"]
    assert first["mediaId"] != second["mediaId"]
    assert first["id"] != second["id"]


async def test_events_written_in_order_with_the_change(api: Api, owner: str) -> None:
    a = await add(api, owner, 16)
    b = await add(api, owner, 17)
    await api.gql(
        "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }",
        {"id": a["id"]},
        user=owner,
    )
    await api.gql(SET_PRIMARY, {"id": a["id"], "slot": "FACE_REF"}, user=owner)
    await api.gql(SET_PRIMARY, {"id": b["id"], "slot": "FACE_REF"}, user=owner)
    await api.gql(
        'mutation($id: ID!) { updateMeImage(id: $id, input: {label: "l"}) { __typename } }',
        {"id": b["id"]},
        user=owner,
    )
    await api.gql(
        "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }", {"id": b["id"]}, user=owner
    )
    async with api.app.state.server.stores.db.session() as session:
        rows = (
            (
                await session.execute(
                    select(MeImageEvent)
                    .where(MeImageEvent.owner_id == owner)
                    .order_by(MeImageEvent.seq)  # type: ignore[arg-type]
                )
            )
            .scalars()
            .all()
        )
    assert [(r.type, r.image_id) for r in rows] == [
        ("MeImageAdded", a["id"]),
        ("MeImageAdded", b["id"]),
        ("MeImageAiReferenceToggled", a["id"]),
        ("MeImagePrimaryChanged", a["id"]),
        ("MeImagePrimaryChanged", a["id"]),  # lost FACE_REF to b
        ("MeImagePrimaryChanged", b["id"]),
        ("MeImageUpdated", b["id"]),
        ("MeImageDeleted", b["id"]),
    ]
    assert rows[2].payload == {"enabled": True}
    assert rows[4].payload == {"slot": None, "previous_slot": "face-ref"}
    seqs = [r.seq for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


CREATE_FROM = """
  mutation($m: ID!) { createMeImage(input: {mediaId: $m, kind: FACE}) {
    __typename ... on MeImage { id mediaId } ... on Error { code message } } }"""


async def rest_upload(api: Api, owner: str, seed: int) -> dict[str, Any]:
    response = await api.client.post(
        "/api/v1/profile/me-images/upload",
        files={"file": ("p.jpg", jpeg(seed), "image/jpeg")},
        headers=api.headers(owner),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_twenty_concurrent_creates_of_one_upload_make_one_image(api: Api, owner: str) -> None:
    body = await rest_upload(api, owner, 40)
    results = await asyncio.gather(
        *(api.gql(CREATE_FROM, {"m": body["mediaId"]}, user=owner) for _ in range(20))
    )
    answers = [r["createMeImage"] for r in results]
    made = [a for a in answers if a["__typename"] == "MeImage"]
    refused = [a for a in answers if a["__typename"] != "MeImage"]
    assert len(made) == 1 and len(refused) == 19
    assert {(a["__typename"], a["code"]) for a in refused} == {
        ("InvalidInputError", "INVALID_INPUT")
    }
    assert all("already has an image" in a["message"] for a in refused)
    listed = await api.gql("{ meImages { id mediaId } }", user=owner)
    assert listed["meImages"] == [{"id": made[0]["id"], "mediaId": body["mediaId"]}]
    # Exactly one ADDED event: the refused attempts left nothing behind.
    async with api.app.state.server.stores.db.session() as session:
        added = (
            await session.execute(
                select(func.count())
                .select_from(MeImageEvent)
                .where(MeImageEvent.owner_id == owner, MeImageEvent.type == "MeImageAdded")  # type: ignore[arg-type]
            )
        ).scalar_one()
    assert added == 1


async def test_database_refuses_two_live_images_of_one_upload(api: Api, owner: str) -> None:
    image = await add(api, owner, 41)
    db = api.app.state.server.stores.db

    def twin(**extra: Any) -> MeImage:
        now = utcnow()
        return MeImage(
            owner_id=owner,
            space_id="personal",
            kind="face",
            media_ref_id=image["mediaId"],
            created_at=now,
            updated_at=now,
            **extra,
        )

    # Bypassing the resolvers (and the owner lock): the partial unique index says no.
    with pytest.raises(IntegrityError) as refused:
        async with db.transaction() as session:
            session.add(twin())
            await session.flush()
    assert is_live_media_conflict(refused.value)
    # Deleted rows do not count: the index covers live rows only.
    async with db.transaction() as session:
        session.add(twin(deleted_at=utcnow()))
    listed = await api.gql("{ meImages { id } }", user=owner)
    assert [i["id"] for i in listed["meImages"]] == [image["id"]]


async def test_uploading_the_same_photo_twice_makes_two_images(api: Api, owner: str) -> None:
    """Each upload is its own media id: two uploads of one photo are two images, and
    deleting one revokes its URLs only."""
    same = jpeg(42)
    first = await api.upload(same, user=owner)
    second = await api.upload(same, user=owner)
    assert first["mediaId"] != second["mediaId"]
    assert first["storagePath"] == second["storagePath"]
    await api.gql(
        "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }",
        {"id": first["id"]},
        user=owner,
    )
    assert (await api.client.get(first["publicUrl"])).status_code == 404
    assert (await api.client.get(first["thumbnailUrl"])).status_code == 404
    assert (await api.client.get(second["publicUrl"])).status_code == 200
    listed = await api.gql("{ meImages { id } }", user=owner)
    assert [i["id"] for i in listed["meImages"]] == [second["id"]]
