"""Deleting revokes at once: every URL of a deleted image, a purged owner or a purged
generation answers the same 404 as a media id that never existed, with or without
`If-None-Match`, right after the mutation. One image per upload."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from resolvers.lifecycle.purge import purge_deleted_images, purge_owner
from resolvers.media.uploads import store_image
from resolvers.stores import Caller
from storage.repositories.media import APP_PICTURE
from testbed import media_samples as samples
from tests.support.app import Api

FIELDS = (
    "__typename ... on MeImage { id mediaId storagePath publicUrl thumbnailUrl mediumUrl"
    " transformUrl(width: 64, height: 64, fit: COVER, format: PNG) }"
    " ... on Error { code message }"
)
VARIANTS = ("publicUrl", "thumbnailUrl", "mediumUrl", "transformUrl")
DELETE = "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }"
CREATE = """
  mutation($m: ID!) { createMeImage(input: {mediaId: $m, kind: FACE}) {
    __typename ... on MeImage { id mediaId } ... on Error { code message } } }"""


async def add_image(mapi: Api, owner: str, data: bytes, space: str | None = None) -> Any:
    image = await mapi.upload(data, user=owner, space=space, fields=FIELDS)
    assert image["__typename"] == "MeImage", image
    return image


async def missing(mapi: Api) -> httpx.Response:
    """What a media id that never existed answers."""
    response = await mapi.client.get(f"/media/{uuid.uuid4()}/original")
    assert response.status_code == 404
    return response


async def etags(mapi: Api, image: dict[str, Any]) -> dict[str, str]:
    """Fetch every variant once (the transform is made and cached) and keep its ETag."""
    tags = {}
    for name in VARIANTS:
        response = await mapi.client.get(image[name])
        assert response.status_code == 200, (name, response.text)
        assert response.headers["cache-control"] == "private, no-cache"
        revalidated = await mapi.client.get(
            image[name], headers={"If-None-Match": response.headers["etag"]}
        )
        assert revalidated.status_code == 304, name
        tags[name] = response.headers["etag"]
    return tags


async def assert_revoked(
    mapi: Api, image: dict[str, Any], tags: dict[str, str], owner: str
) -> None:
    gone = (await missing(mapi)).content
    for name in VARIANTS:
        url = image[name]
        plain = await mapi.client.get(url)
        cached = await mapi.client.get(url, headers={"If-None-Match": tags[name]})
        star = await mapi.client.get(url, headers={"If-None-Match": "*"})
        # Nor does the owner's own token bring it back.
        token = await mapi.client.get(url.split("?")[0], headers=mapi.headers(owner))
        for response in (plain, cached, star, token):
            assert response.status_code == 404, (name, response.status_code)
            assert response.content == gone
            assert "etag" not in response.headers


async def test_deleting_revokes_every_url_at_once(mapi: Api, owner: str) -> None:
    image = await add_image(mapi, owner, samples.noisy_jpeg((300, 200), seed=71))
    kept = await add_image(mapi, owner, samples.noisy_jpeg((300, 200), seed=72))
    tags = await etags(mapi, image)
    await etags(mapi, kept)

    await mapi.gql(DELETE, {"id": image["id"]}, user=owner)
    await assert_revoked(mapi, image, tags, owner)
    # The owner's other image is untouched.
    await etags(mapi, kept)
    # A revoked upload cannot be attached again (that would bring its URLs back).
    again = await mapi.gql(CREATE, {"m": image["mediaId"]}, user=owner)
    unknown = await mapi.gql(CREATE, {"m": str(uuid.uuid4())}, user=owner)
    assert again == unknown
    assert again["createMeImage"]["__typename"] == "NotFoundError"
    # Purging the deleted image later changes nothing for its URLs.
    await purge_deleted_images(mapi.stores, older_than=timedelta(0))
    await assert_revoked(mapi, image, tags, owner)


async def test_uploading_the_same_photo_again_never_revives_a_deleted_image(
    mapi: Api, owner: str
) -> None:
    data = samples.noisy_jpeg((200, 150), seed=73)
    first = await add_image(mapi, owner, data)
    second = await add_image(mapi, owner, data)
    # Two uploads of one photo: two images, two media ids, the bytes stored once.
    assert first["mediaId"] != second["mediaId"]
    assert first["storagePath"] == second["storagePath"]
    tags = await etags(mapi, first)
    await mapi.gql(DELETE, {"id": first["id"]}, user=owner)
    await assert_revoked(mapi, first, tags, owner)
    await etags(mapi, second)  # the other upload of the same photo still serves
    third = await add_image(mapi, owner, data)
    assert third["mediaId"] not in (first["mediaId"], second["mediaId"])
    await assert_revoked(mapi, first, tags, owner)
    await etags(mapi, third)


async def test_purging_an_owner_revokes_images_and_generation_outputs(
    mapi: Api, owner: str, other_owner: str
) -> None:
    image = await add_image(mapi, owner, samples.noisy_jpeg((160, 120), seed=74))
    deleted = await add_image(mapi, owner, samples.noisy_jpeg((160, 120), seed=75))
    theirs = await add_image(mapi, other_owner, samples.noisy_jpeg((160, 120), seed=74))
    # A generation output: `picture` media of the owner, not an image of the pool.
    output = await store_image(
        mapi.stores, Caller(owner), samples.noisy_jpeg((128, 128), seed=76), app=APP_PICTURE
    )
    urls = mapi.app.state.server.urls
    picture = {
        "publicUrl": urls.url(output.id, "original", owner),
        "thumbnailUrl": urls.url(output.id, "thumbnail", owner),
        "mediumUrl": urls.url(output.id, "medium", owner),
        "transformUrl": urls.url(output.id, "w64h64-cover.png", owner),
    }
    picture_tags = await etags(mapi, picture)
    # An output taken into the pool gets a media id of its own: deleting that image
    # revokes the new id, never the output's URLs (they follow the generation).
    create_full = (
        "mutation($m: ID!) { createMeImage(input: {mediaId: $m, kind: FACE}) { " + FIELDS + " } }"
    )
    attach = (await mapi.gql(create_full, {"m": output.id}, user=owner))["createMeImage"]
    assert attach["__typename"] == "MeImage" and attach["mediaId"] != output.id
    attached_tags = await etags(mapi, attach)
    await mapi.gql(DELETE, {"id": attach["id"]}, user=owner)
    await assert_revoked(mapi, attach, attached_tags, owner)
    assert await etags(mapi, picture) == picture_tags
    # Another owner cannot take it: their answer is the one for a missing id.
    foreign = await mapi.gql(CREATE, {"m": output.id}, user=other_owner)
    assert foreign["createMeImage"]["__typename"] == "NotFoundError"
    tags = await etags(mapi, image)
    deleted_tags = await etags(mapi, deleted)
    await mapi.gql(DELETE, {"id": deleted["id"]}, user=owner)

    await purge_owner(mapi.stores, owner)
    await assert_revoked(mapi, image, tags, owner)
    await assert_revoked(mapi, deleted, deleted_tags, owner)
    await assert_revoked(mapi, picture, picture_tags, owner)
    await etags(mapi, theirs)


async def test_one_image_per_upload(mapi: Api, owner: str) -> None:
    photo = samples.noisy_jpeg((120, 90), seed=77)
    body = (await mapi.rest_upload(photo, user=owner)).json()
    created = await mapi.gql(CREATE, {"m": body["mediaId"]}, user=owner)
    assert created["createMeImage"]["__typename"] == "MeImage"
    twice = await mapi.gql(CREATE, {"m": body["mediaId"]}, user=owner)
    assert twice["createMeImage"]["__typename"] == "InvalidInputError"
    assert "already has an image" in twice["createMeImage"]["message"]
    listed = await mapi.gql("{ meImages { id mediaId } }", user=owner)
    assert listed["meImages"] == [
        {"id": created["createMeImage"]["id"], "mediaId": body["mediaId"]}
    ]
    # The same file uploaded again is a new upload with its own id.
    fresh = (await mapi.rest_upload(photo, user=owner)).json()
    assert fresh["mediaId"] != body["mediaId"]
    assert fresh["storagePath"] == body["storagePath"]
    again = await mapi.gql(CREATE, {"m": fresh["mediaId"]}, user=owner)
    assert again["createMeImage"]["__typename"] == "MeImage"


async def test_media_of_another_space_is_unknown(mapi: Api, owner: str) -> None:
    photo = samples.noisy_jpeg((120, 90), seed=78)
    personal = (await mapi.rest_upload(photo, user=owner)).json()
    path = personal["publicUrl"].split("?")[0]
    unknown = f"/media/{uuid.uuid4()}/original"
    in_brand = mapi.headers(owner, "brand-7")
    cross = await mapi.client.get(path, headers=in_brand)
    never = await mapi.client.get(unknown, headers=in_brand)
    assert cross.status_code == never.status_code == 404 and cross.content == never.content
    assert (await mapi.client.get(path, headers=mapi.headers(owner))).status_code == 200
    attach = await mapi.gql(CREATE, {"m": personal["mediaId"]}, user=owner, space="brand-7")
    attach_unknown = await mapi.gql(CREATE, {"m": str(uuid.uuid4())}, user=owner, space="brand-7")
    assert attach == attach_unknown
    assert attach["createMeImage"]["__typename"] == "NotFoundError"
    # The same photo uploaded in the brand space is the brand space's own media.
    branded = await add_image(mapi, owner, photo, space="brand-7")
    assert branded["mediaId"] != personal["mediaId"]
    assert branded["storagePath"] == personal["storagePath"]  # bytes stored once per owner
    own = branded["publicUrl"].split("?")[0]
    assert (await mapi.client.get(own, headers=in_brand)).status_code == 200
    assert (await mapi.client.get(own, headers=mapi.headers(owner))).status_code == 404
