"""The API's view of an image (`MeImage.of`) is made once per image of a pool snapshot and
kept with it: list reads of one data version share it, and any change gives new images
with new views, so a read never shows what the pool no longer holds."""

from __future__ import annotations

from dataclasses import replace

from resolvers.pool import me_images
from resolvers.stores import Caller
from schema.pool.types import MeImage
from testbed.images import jpeg
from tests.support.app import Api

LIST = "{ meImages { id label tags primaryFor useCount usage { aiReference } } }"


async def test_a_view_is_kept_with_its_image_and_never_outlives_a_change(
    api: Api, owner: str
) -> None:
    first = await api.upload_image(jpeg(501), user=owner, input={"label": "before"})
    second = await api.upload_image(jpeg(502), user=owner)
    listed = await api.gql(LIST, user=owner)
    snapshot = await me_images.pool_snapshot(api.stores, Caller(owner))
    views = [MeImage.of(image) for image in snapshot.images]
    # The list read above made them: the same objects come back, one per image.
    assert [MeImage.of(image) for image in snapshot.images] == views
    assert all(a is b for a, b in zip(views, [MeImage.of(i) for i in snapshot.images], strict=True))
    assert all(
        image.views == {MeImage: view} for image, view in zip(snapshot.images, views, strict=True)
    )

    # An image made from another (`replace`) starts without views: its own is made anew.
    image = snapshot.images[0]
    counted = replace(image, use_count=image.use_count + 5)
    assert counted.views == {}
    assert MeImage.of(counted).use_count == image.use_count + 5
    assert MeImage.of(image).use_count == image.use_count

    # Every kind of change shows in the next read, through the views of the new snapshot.
    await api.gql(
        """mutation($a: ID!, $b: ID!) {
          l: updateMeImage(id: $a, input: {label: "after", tags: ["t"]}) { __typename }
          p: setPrimary(id: $b, slot: FACE_REF) { __typename }
          o: setAiReferenceEnabled(id: $b, enabled: true) { __typename }
        }""",
        {"a": first["id"], "b": second["id"]},
        user=owner,
    )
    relisted = await api.gql(LIST, user=owner)
    assert relisted != listed
    by_id = {i["id"]: i for i in relisted["meImages"]}
    assert (by_id[first["id"]]["label"], by_id[first["id"]]["tags"]) == ("after", ["t"])
    assert by_id[second["id"]]["primaryFor"] == "FACE_REF"
    assert by_id[second["id"]]["usage"] == {"aiReference": True}
    newer = await me_images.pool_snapshot(api.stores, Caller(owner))
    assert newer.version > snapshot.version
    assert not any(MeImage.of(i) is v for i in newer.images for v in views)
