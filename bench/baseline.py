"""A bare Starlette endpoint returning a fixed JSON body from memory: the benchmark's yardstick."""

from __future__ import annotations

import gc
import os
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create(body: bytes) -> Starlette:
    async def endpoint(request: Request) -> Response:
        await request.body()
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/graphql", endpoint, methods=["GET", "POST"])])


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as fh:
        app = create(fh.read())
    # The same start-up treatment `meimages serve` gets, so the comparison stays fair.
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
