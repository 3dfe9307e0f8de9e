"""GET /media/{media_id}/{variant}: delivery of stored images and their variants."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.auth import Authenticator, AuthError
from resolvers.media import delivery, sanitising, transforms, uploads
from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.stores import Stores

MEDIA_PATH = "/media/{media_id}/{variant}"
# Served images are never a document: no scripts, no plugins, no navigation, no sniffing.
MEDIA_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    # The signature is the access control, so front ends on any origin may embed it.
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Referrer-Policy": "no-referrer",
}


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
        if len(media_id) > 64 or not transforms.is_variant(variant, self.stores.config.limits):
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
                caller, _exp = await self.authenticator.authenticate_request(request.scope)
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
