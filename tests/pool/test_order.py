"""Image lists are newest first by default (the source app's order); `order` asks for oldest first."""

from __future__ import annotations

from testbed.images import jpeg
from tests.support.app import Api


async def test_me_images_and_reference_images_are_newest_first_unless_asked(
    api: Api, owner: str
) -> None:
    ids = []
    for seed in range(4):
        image = await api.upload_image(jpeg(300 + seed), user=owner, input={"kind": "FACE"})
        ids.append(image["id"])
        enabled = await api.gql(
            "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }",
            {"id": image["id"]},
            user=owner,
        )
        assert enabled["setAiReferenceEnabled"]["__typename"] == "MeImage"
    newest_first = list(reversed(ids))
    listed = await api.gql(
        """{
          default: meImages { id createdAt }
          newest: meImages(order: NEWEST_FIRST) { id }
          oldest: meImages(order: OLDEST_FIRST) { id }
          faces: meImages(kind: FACE, order: OLDEST_FIRST) { id }
          refs: referenceImages { id }
          oldestRefs: referenceImages(order: OLDEST_FIRST) { id }
        }""",
        user=owner,
    )
    assert [i["id"] for i in listed["default"]] == newest_first
    created = [i["createdAt"] for i in listed["default"]]
    assert created == sorted(created, reverse=True)
    assert [i["id"] for i in listed["newest"]] == newest_first
    assert [i["id"] for i in listed["oldest"]] == ids
    assert [i["id"] for i in listed["faces"]] == ids
    assert [i["id"] for i in listed["refs"]] == newest_first
    assert [i["id"] for i in listed["oldestRefs"]] == ids


async def test_unknown_order_is_a_validation_error(api: Api, owner: str) -> None:
    response = await api.post("{ meImages(order: SIDEWAYS) { id } }", user=owner)
    assert response.status_code in (200, 400)
    body = response.json()
    assert body.get("data") is None and "SIDEWAYS" in body["errors"][0]["message"]
