"""Calling a meimages GraphQL endpoint as any user: operations, uploads, tokens.

The request shapes (a JSON operation, a GraphQL multipart upload, bearer headers) and
the checks of a response are plain functions, for code that sends them itself (with a
sync httpx client, say); `GraphQLClient` sends them through an async httpx client, to
a live server or to the in-process app alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

# (user, space) -> a bearer token the server accepts
Tokens = Callable[[str, str | None], str]

# Cross-site forms cannot send this header; requests that are not about CSRF send it.
PREFLIGHT = {"GraphQL-Require-Preflight": "1"}
IMAGE_FIELDS = (
    "__typename ... on MeImage { id mediaId storagePath kind label tags width height"
    " primaryFor publicUrl thumbnailUrl contentType usage { aiReference showInProfile } }"
    " ... on Error { code message }"
)
UPLOAD = (
    "mutation($file: Upload!, $input: UploadMeImageInput) {"
    " uploadMeImage(file: $file, input: $input) { %s } }"
)


def operation(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"query": query, "variables": variables or {}}


def bearer(token: str, *, preflight: bool = False) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    return {**headers, **PREFLIGHT} if preflight else headers


def upload_form(
    file: bytes,
    *,
    fields: str = IMAGE_FIELDS,
    input: dict[str, Any] | None = None,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
) -> dict[str, Any]:
    """`uploadMeImage` as a GraphQL multipart request: keyword arguments for httpx."""
    operations = {"query": UPLOAD % fields, "variables": {"file": None, "input": input}}
    return {
        "data": {
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        "files": {"0": (filename, file, content_type)},
    }


def data_of(response: httpx.Response) -> dict[str, Any]:
    """The data of a response that must have succeeded (200, no errors)."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


def upload_result(response: httpx.Response) -> dict[str, Any]:
    """The `uploadMeImage` payload (a MeImage or a typed error) of an upload response."""
    return data_of(response)["uploadMeImage"]  # type: ignore[no-any-return]


class GraphQLClient:
    """An async caller of one GraphQL endpoint as any user."""

    def __init__(self, http: httpx.AsyncClient, url: str, tokens: Tokens) -> None:
        self.http = http
        self.url = url
        self.tokens = tokens

    def headers(
        self, user: str, space: str | None = None, *, preflight: bool = False
    ) -> dict[str, str]:
        return bearer(self.tokens(user, space), preflight=preflight)

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        user: str,
        space: str | None = None,
    ) -> httpx.Response:
        return await self.http.post(
            self.url, json=operation(query, variables), headers=self.headers(user, space)
        )

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        user: str,
        space: str | None = None,
    ) -> dict[str, Any]:
        """The data of an operation that must succeed."""
        return data_of(await self.post(query, variables, user=user, space=space))

    async def post_upload(
        self, file: bytes, *, user: str, space: str | None = None, **form: Any
    ) -> httpx.Response:
        headers = self.headers(user, space, preflight=True)
        return await self.http.post(self.url, headers=headers, **upload_form(file, **form))

    async def upload(
        self, file: bytes, *, user: str, space: str | None = None, **form: Any
    ) -> dict[str, Any]:
        """The `uploadMeImage` payload: a MeImage or a typed error."""
        return upload_result(await self.post_upload(file, user=user, space=space, **form))

    async def upload_image(
        self, file: bytes, *, user: str, space: str | None = None, **form: Any
    ) -> dict[str, Any]:
        """An upload that must succeed: the new MeImage."""
        image = await self.upload(file, user=user, space=space, **form)
        assert image["__typename"] == "MeImage", image
        return image
