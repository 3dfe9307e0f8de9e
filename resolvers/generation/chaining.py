"""Chaining: a generated picture as a reference of a new generation.

An output reaches the AI only as an image of the pool. Taking it there (`create_image`
with the output's media id) makes a MeImage like an upload: AI use off until its owner
switches it on, and from then on every rule of the pool holds for it unchanged - the
kill switch, the allowlists, the consent end date, the usage ledger, the send-time
check. So there is one consent rule for uploads and outputs, checked in one place
(`service._check_consent`), whichever door the request came through. An output id that
was never taken into the pool, or whose image is not opted in, is refused exactly like
an unknown id.

This module only answers which pool image (if any) was taken from which output, for the
picker and the agents' listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from resolvers.pool.me_images import Image
from resolvers.stores import Caller, Stores
from storage.repositories.media import APP_PICTURE


async def pool_images_of_outputs(
    stores: Stores, caller: Caller, output_media_ids: Sequence[str], pool: Iterable[Image]
) -> dict[str, Image]:
    """Output media id -> the live image of `pool` (the caller's images, as loaded by the
    caller of this function) that was taken from it; outputs not in the pool are absent."""
    if not output_media_ids:
        return {}
    async with stores.reading() as read:
        objects = await read.media.object_ids(
            caller.owner_id, caller.space_id, output_media_ids, APP_PICTURE
        )
    by_object = {image.media.object_id: image for image in pool if image.media.object_id}
    return {
        media_id: by_object[object_id]
        for media_id, object_id in objects.items()
        if object_id in by_object
    }
