"""REST routes kept from the source app: the upload route and media delivery."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.auth import Authenticator, AuthError
from resolvers import errors, media
from resolvers.signed_urls import VARIANTS, MediaUrlSigner
from resolvers.stores import Stores

_STATUS = {
    errors.TooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.InvalidInput: 400,
    errors.NotFound: 404,
}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


class UploadRoute:
    """POST /api/v1/profile/me-images/upload (multipart field `file`) → 201 with the media."""

    def __init__(self, stores: Stores, urls: MediaUrlSigner, authenticator: Authenticator) -> None:
        self.stores = stores
        self.urls = urls
        self.authenticator = authenticator

    async def handle(self, request: Request) -> Response:
        try:
            caller, _exp = await self.authenticator.authenticate(
                request.headers.get("authorization")
            )
        except AuthError as exc:
            return _error(401, "UNAUTHENTICATED", str(exc))
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return _error(400, "INVALID_INPUT", "send multipart/form-data with a `file` field")
        limit = self.stores.limits.max_upload_bytes
        try:
            async with request.form(max_files=1, max_fields=10) as form:
                file = form.get("file")
                if not isinstance(file, UploadFile):
                    return _error(400, "INVALID_INPUT", "the multipart field `file` is missing")
                data = await file.read(limit + 1)
        except ValueError:
            return _error(400, "INVALID_INPUT", "the multipart body could not be parsed")
        try:
            if len(data) > limit:
                raise errors.TooLarge(f"files are limited to {limit} bytes", limit)
            stored = await media.store_image(self.stores, caller, data)
        except errors.DomainError as exc:
            return _error(_STATUS.get(type(exc), 400), exc.code, exc.message)
        return JSONResponse(
            {
                "mediaId": stored.id,
                "storagePath": stored.storage_path,
                "publicUrl": self.urls.url(stored.id, "original", stored.owner_id),
                "thumbnailUrl": self.urls.url(stored.id, "thumbnail", stored.owner_id),
                "contentType": stored.content_type,
                "width": stored.width,
                "height": stored.height,
                "byteSize": stored.byte_size,
            },
            status_code=201,
        )


class MediaRoute:
    """GET /media/{media_id}/{variant}: a valid signature or the owner's bearer token."""

    def __init__(self, stores: Stores, urls: MediaUrlSigner, authenticator: Authenticator) -> None:
        self.stores = stores
        self.urls = urls
        self.authenticator = authenticator

    async def handle(self, request: Request) -> Response:
        media_id = request.path_params["media_id"]
        variant = request.path_params["variant"]
        not_found = Response("Not Found", status_code=404, media_type="text/plain")
        if variant not in VARIANTS or len(media_id) > 64:
            return not_found
        found = await media.find_media_any_owner(self.stores, media_id)
        if found is None or not await self._allowed(request, found.owner_id, media_id, variant):
            # Same answer whether the media is missing, foreign, expired or tampered with.
            return not_found
        path = found.storage_path if variant == "original" else found.thumbnail_path
        etag = '"' + path.rsplit("/", 1)[-1] + '"'
        headers = {
            "ETag": etag,
            "Cache-Control": "private, max-age=300",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cross-Origin-Resource-Policy": "same-site",
            "Referrer-Policy": "no-referrer",
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        data = await self.stores.blobs.get(path)
        if data is None:
            return not_found
        content_type = found.content_type if variant == "original" else "image/webp"
        ext = content_type.split("/")[-1].replace("jpeg", "jpg")
        headers["Content-Disposition"] = f'inline; filename="{media_id}-{variant}.{ext}"'
        return Response(data, media_type=content_type, headers=headers)

    async def _allowed(self, request: Request, owner_id: str, media_id: str, variant: str) -> bool:
        exp, sig = request.query_params.get("exp"), request.query_params.get("sig")
        if exp and sig:
            return self.urls.verify(media_id, variant, owner_id, exp, sig)
        if request.headers.get("authorization"):
            try:
                caller, _exp = await self.authenticator.authenticate(
                    request.headers.get("authorization")
                )
            except AuthError:
                return False
            return caller.owner_id == owner_id
        return False
