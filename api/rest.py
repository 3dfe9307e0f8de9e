"""REST routes kept from the source app: the upload route and media delivery."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.auth import Authenticator, AuthError
from resolvers import errors
from resolvers.media import delivery, sanitising, transforms, uploads
from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.stores import Stores

_STATUS = {
    errors.TooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.InvalidInput: 400,
    errors.NotFound: 404,
}
# Served images are never a document: no scripts, no plugins, no navigation, no sniffing.
MEDIA_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    # The signature is the access control, so front ends on any origin may embed it.
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Referrer-Policy": "no-referrer",
}


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


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
                # The client's filename and content type are ignored: the bytes decide.
                # One byte over the limit is enough for store_image to refuse the file.
                data = await file.read(limit + 1)
        except ValueError:
            return _error(400, "INVALID_INPUT", "the multipart body could not be parsed")
        try:
            stored = await uploads.store_image(self.stores, caller, data)
        except sanitising.ImageRejected as exc:
            return _error(415, exc.code, exc.message, reason=exc.reason.value)
        except errors.DomainError as exc:
            return _error(_STATUS.get(type(exc), 400), exc.code, exc.message)
        return JSONResponse(media_json(stored, self.urls), status_code=201)


class MediaRoute:
    """GET /media/{media_id}/{variant}: a valid signature, or a bearer token of the
    media's owner in the media's space.

    Variants: `original`, `thumbnail`, `medium`, or a transform such as
    `w320h240-cover.webp` (made on first use, then served from the store).
    Missing, foreign, other-space, revoked (deleted image, purged owner), expired and
    tampered all get the same 404, so a URL reveals nothing about whether the media
    exists.

    Revocation is immediate: whether the media may be served is read from the database
    on every request (no per-process memory), before any 304, and browsers are told to
    revalidate every use (`no-cache`), so no cached copy outlives a deletion unasked.
    """

    def __init__(self, stores: Stores, urls: MediaUrlSigner, authenticator: Authenticator) -> None:
        self.stores = stores
        self.urls = urls
        self.authenticator = authenticator

    async def handle(self, request: Request) -> Response:
        media_id = request.path_params["media_id"]
        variant = request.path_params["variant"]
        not_found = Response("Not Found", status_code=404, media_type="text/plain")
        if len(media_id) > 64 or not transforms.is_variant(variant, self.stores.limits):
            return not_found
        found = await delivery.find_servable_media(self.stores, media_id)
        if found is None:
            return not_found
        if not await self._allowed_for(request, found, variant):
            return not_found
        etag = delivery.variant_etag(found, variant)
        headers = {
            **MEDIA_SECURITY_HEADERS,
            "ETag": etag,
            # Private: no shared cache keeps it. no-cache: a browser asks again on every
            # use (a cheap 304 while the media lives), so a deletion reaches it at once.
            "Cache-Control": "private, no-cache",
        }
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        try:
            rendition = await delivery.read_variant(self.stores, found, variant)
        except sanitising.ImageRejected as exc:
            if exc.reason is sanitising.Rejection.TIMEOUT:
                return Response(
                    "Busy", status_code=503, media_type="text/plain", headers={"Retry-After": "5"}
                )
            raise
        if rendition is None:
            return not_found
        ext = rendition.content_type.split("/")[-1].replace("jpeg", "jpg")
        stem = variant.rsplit(".", 1)[0]
        # Never the uploader's filename: ours is made of the id and the variant only.
        headers["Content-Disposition"] = f'inline; filename="{media_id}-{stem}.{ext}"'
        return Response(rendition.data, media_type=rendition.content_type, headers=headers)

    async def _allowed_for(self, request: Request, found: uploads.Media, variant: str) -> bool:
        """A signature for this media, variant and owner; or the owner's token for the
        media's space (spaces are separate pools, also for the owner)."""
        exp, sig = request.query_params.get("exp"), request.query_params.get("sig")
        if exp and sig:
            return self.urls.verify(found.id, variant, found.owner_id, exp, sig)
        if request.headers.get("authorization"):
            try:
                caller, _exp = await self.authenticator.authenticate(
                    request.headers.get("authorization")
                )
            except AuthError:
                return False
            return caller.owner_id == found.owner_id and caller.space_id == found.space_id
        return False


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    candidates = (tag.strip().removeprefix("W/") for tag in header.split(","))
    return etag in candidates
