"""Stock Strawberry answering the list query from memory: the payload meimages gave, as
plain Strawberry types over dataclasses (no auth, no database, no extensions), served by
uvicorn with uvloop and httptools. Usage: python -m bench.stock_strawberry BODY PORT"""

from __future__ import annotations

import gc
import json
import os
import sys
from typing import Any

import strawberry
import uvicorn
from strawberry.asgi import GraphQL


@strawberry.type
class MeImageUsage:
    ai_reference: bool
    show_in_profile: bool


@strawberry.type
class MeImage:
    id: strawberry.ID
    kind: str
    label: str | None
    tags: list[str]
    media_id: strawberry.ID
    storage_path: str
    public_url: str
    thumbnail_url: str
    content_type: str
    width: int
    height: int
    usage: MeImageUsage
    primary_for: str | None
    created_at: str
    updated_at: str


def _image(data: dict[str, Any]) -> MeImage:
    usage = data["usage"]
    return MeImage(
        id=strawberry.ID(data["id"]),
        kind=data["kind"],
        label=data["label"],
        tags=data["tags"],
        media_id=strawberry.ID(data["mediaId"]),
        storage_path=data["storagePath"],
        public_url=data["publicUrl"],
        thumbnail_url=data["thumbnailUrl"],
        content_type=data["contentType"],
        width=data["width"],
        height=data["height"],
        usage=MeImageUsage(
            ai_reference=usage["aiReference"], show_in_profile=usage["showInProfile"]
        ),
        primary_for=data["primaryFor"],
        created_at=data["createdAt"],
        updated_at=data["updatedAt"],
    )


def create(body: bytes) -> GraphQL[None, None]:
    images = [_image(i) for i in json.loads(body)["data"]["meImages"]]

    @strawberry.type
    class Query:
        @strawberry.field
        def me_images(self) -> list[MeImage]:
            return images

    return GraphQL(strawberry.Schema(query=Query), graphql_ide=None)


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as fh:
        app = create(fh.read())
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[2]),
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    os._exit(0)
