"""POST /api/v1/profile/me-images/upload: the source app's upload route."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.auth import Authenticator, AuthError
from api.error_bodies import rest_error
from api.proxy import signer_for
from api.request_rate import too_many_requests
from resolvers import errors
from resolvers.media import uploads
from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.pool import me_images
from resolvers.rate_limits import RateLimited
from resolvers.stores import Stores
from schema.error_map import describe

UPLOAD_PATH = "/api/v1/profile/me-images/upload"


def media_json(stored: uploads.Media, urls: MediaUrlSigner) -> dict[str, Any]:
    return {
        "mediaId": stored.id,
        "storagePath": stored.storage_path,
        "publicUrl": urls.url(stored.id, "original", stored.owner_id),
        "thumbnailUrl": urls.url(stored.id, "thumbnail", stored.owner_id),
        "mediumUrl": urls.url(stored.id, "medium", stored.owner_id),
        "contentType": stored.content_type,
        "width": stored.width,
        "height": stored.height,
        "byteSize": stored.byte_size,
        "sha256": stored.sha256,
    }


class UploadRoute:
    """Multipart field `file` → 201 with the stored media (then `createMeImage` with its id)."""

    def __init__(self, stores: Stores, urls: MediaUrlSigner, authenticator: Authenticator) -> None:
        self.stores = stores
        self.urls = urls
        self.authenticator = authenticator

    async def handle(self, request: Request) -> Response:
        try:
            caller, _exp = await self.authenticator.authenticate_request(request.scope)
        except AuthError as exc:
            return rest_error(401, "UNAUTHENTICATED", str(exc))
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return rest_error(400, "INVALID_INPUT", "send multipart/form-data with a `file` field")
        data = await self._file_bytes(request)
        if isinstance(data, Response):
            return data
        try:
            stored = await me_images.upload_media(self.stores, caller, data)
        except RateLimited as exc:
            return too_many_requests(request.scope, exc)
        except errors.DomainError as exc:
            shown = describe(exc)
            return rest_error(shown.http_status, shown.code, shown.message, **shown.extra)
        return JSONResponse(
            media_json(stored, signer_for(self.urls, request.scope)), status_code=201
        )

    async def _file_bytes(self, request: Request) -> bytes | Response:
        """The bytes of the `file` part, or the refusal when the body does not have one."""
        limit = self.stores.config.limits.max_upload_bytes
        try:
            async with request.form(max_files=1, max_fields=10) as form:
                file = form.get("file")
                if not isinstance(file, UploadFile):
                    return rest_error(400, "INVALID_INPUT", "the multipart field `file` is missing")
                # The client's filename and content type are ignored: the bytes decide.
                # One byte over the limit is enough for store_image to refuse the file.
                return await file.read(limit + 1)
        except ValueError:
            return rest_error(400, "INVALID_INPUT", "the multipart body could not be parsed")
