"""The API's view of an image (`MeImage`) is made once per image of a pool snapshot and
kept in the snapshot: list reads of one data version share it, any change gives a new
snapshot with new views, so a read never shows what the pool no longer holds, and a
snapshot left behind is freed at once (no reference cycle waits for the cyclic GC)."""

from __future__ import annotations

import gc
import weakref

from resolvers.pool import me_images
from resolvers.stores import Caller
from schema.pool.types import MeImage
from testbed.images import jpeg
from tests.support.app import Api

LIST = "{ meImages { id label tags primaryFor useCount usage { aiReference } } }"


async def test_views_are_kept_with_their_snapshot_and_never_outlive_a_change(
    api: Api, owner: str
) -> None:
    first = await api.upload_image(jpeg(501), user=owner, input={"label": "before"})
    second = await api.upload_image(jpeg(502), user=owner)
    listed = await api.gql(LIST, user=owner)
    snapshot = await me_images.pool_snapshot(api.stores, Caller(owner))
    # The list read above made them: the same objects come back, one per image.
    assert sorted(snapshot.views) == sorted([first["id"], second["id"]])
    views = MeImage.listed(list(snapshot.images), snapshot.views)
    assert all(snapshot.views[view.id] is view for view in views)
    assert [view.image for view in views] == list(snapshot.images)
    assert MeImage.listed(list(snapshot.images), snapshot.views) == views

    # Every kind of change shows in the next read, through the views of a new snapshot.
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
    assert not set(map(id, newer.views.values())) & set(map(id, views))


async def test_a_snapshot_left_behind_is_freed_without_the_cyclic_gc(api: Api, owner: str) -> None:
    await api.upload_image(jpeg(503), user=owner)
    await api.gql(LIST, user=owner)  # its views made
    snapshot = await me_images.pool_snapshot(api.stores, Caller(owner))
    assert snapshot.views
    gone = [weakref.ref(snapshot.images[0]), weakref.ref(next(iter(snapshot.views.values())))]
    api.stores.caches.pool_snapshots.clear()
    del snapshot
    gc.disable()
    try:
        # Reference counting alone frees the snapshot, its images and their views.
        assert [ref() for ref in gone] == [None, None]
    finally:
        gc.enable()
