"""Typed errors of the pool, each representing one domain error of `resolvers.pool`."""

from __future__ import annotations

import strawberry

from resolvers.pool import cap
from schema.errors import Error, represents


@represents(cap.PoolFull, http_status=409)
@strawberry.type(
    description="The pool already holds as many live images as this server keeps per owner and space; delete some to add more."
)
class PoolFullError(Error):
    cap: int = strawberry.field(description="The most live images one pool may hold.")
