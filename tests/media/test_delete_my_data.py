"""`deleteMyData`: a person erases everything of theirs exactly as `purge --user` would."""

from __future__ import annotations

import dataclasses
from typing import Any

from storage.tables import (
    DataKey,
    ExportJob,
    MediaBlob,
    MediaObject,
    MediaRef,
    MeImage,
    MeImageEvent,
    Owner,
)
from testbed import media_samples as samples
from tests.media.test_lifecycle import add_image, assert_erased, count, label_ciphertext
from tests.support.app import Api

DELETE = """mutation($c: String!) { deleteMyData(confirmation: $c) {
  __typename
  ... on MyDataDeleted { images media dataKeysDestroyed }
  ... on Error { code message }
  ... on InvalidInputError { field }
} }"""
TABLES = (MeImage, MediaRef, MediaObject, DataKey, MediaBlob, MeImageEvent, ExportJob)


async def delete(mapi: Api, owner: str, phrase: str, space: str | None = None) -> dict[str, Any]:
    data = await mapi.gql(DELETE, {"c": phrase}, user=owner, space=space)
    return data["deleteMyData"]


async def counts(mapi: Api, owner: str) -> dict[str, int]:
    return {table.__name__: await count(mapi, table, owner) for table in TABLES}


async def test_delete_my_data_erases_like_purge_and_leaves_others_alone(
    mapi: Api, owner: str, other_owner: str
) -> None:
    image = await add_image(mapi, owner, samples.noisy_jpeg((120, 90), seed=71), label="mine")
    club = await mapi.upload(samples.noisy_jpeg((100, 80), seed=72), user=owner, space="club")
    assert club["__typename"] == "MeImage"
    theirs = await add_image(mapi, other_owner, samples.noisy_jpeg((120, 90), seed=71))
    export = await mapi.gql("mutation { exportMyData { id } }", user=owner)
    assert export["exportMyData"]["id"]
    theirs_before = await counts(mapi, other_owner)
    stolen_copy = await label_ciphertext(mapi, image)
    blobs_before = await mapi.blob_keys()
    assert any(key.startswith(image["storagePath"]) for key in blobs_before)

    # A wrong phrase (or none) changes nothing.
    for phrase in ("", "delete", "DELETE MY DAT"):
        refused = await delete(mapi, owner, phrase)
        assert refused["__typename"] == "InvalidInputError", refused
        assert (refused["code"], refused["field"]) == ("INVALID_INPUT", "confirmation")
    assert (await counts(mapi, owner))["MeImage"] == 2

    done = await delete(mapi, owner, "DELETE MY DATA")
    assert done == {
        "__typename": "MyDataDeleted",
        "images": 2,
        "media": 2,
        "dataKeysDestroyed": True,
    }
    # Every row of the owner is gone, in every space; the bytes too.
    assert set((await counts(mapi, owner)).values()) == {0}
    await assert_erased(mapi, owner, image, stolen_copy)
    # The same token now sees an empty pool and can start again.
    assert (await mapi.gql("{ meImages { id } }", user=owner))["meImages"] == []
    # The other owner, with the very same picture, keeps everything.
    assert await counts(mapi, other_owner) == theirs_before
    assert (await mapi.client.get(theirs["publicUrl"])).status_code == 200
    listed = await mapi.gql("{ meImages { id } }", user=other_owner)
    assert [i["id"] for i in listed["meImages"]] == [theirs["id"]]


async def test_an_operator_can_keep_deletion_for_themselves(mapi: Api, owner: str) -> None:
    await add_image(mapi, owner, samples.noisy_jpeg((120, 90), seed=73))
    before = await counts(mapi, owner)
    stores = mapi.stores
    config = stores.config.portability
    stores.config.portability = dataclasses.replace(config, self_deletion=False)
    try:
        refused = await delete(mapi, owner, "DELETE MY DATA")
    finally:
        stores.config.portability = config
    assert refused["__typename"] == "SelfDeletionDisabledError"
    assert refused["code"] == "SELF_DELETION_DISABLED"
    assert "purge --user" in refused["message"]
    assert await counts(mapi, owner) == before
    async with stores.db.session() as session:
        assert await session.get(Owner, owner) is not None
