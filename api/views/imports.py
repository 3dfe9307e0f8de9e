"""POST /api/v1/me/import: restoring an export too large for a GraphQL request.

The same rule as `importMyData` (all or nothing, consent off unless kept), behind a door
whose body limit is `MEIMAGES_MAX_IMPORT_BYTES`: the multipart field `file` holds the
zip, an optional field `keepConsent` says `true` to keep the archive's AI opt-ins.
Starlette spools the file to disk as it arrives, so memory stays flat.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.auth import Authenticator, AuthError
from api.error_bodies import rest_error
from resolvers import errors
from resolvers.portability.restore import import_archive
from resolvers.stores import Stores
from schema.error_map import describe

IMPORT_PATH = "/api/v1/me/import"


class ImportRoute:
    def __init__(self, stores: Stores, authenticator: Authenticator) -> None:
        self.stores = stores
        self.authenticator = authenticator

    async def handle(self, request: Request) -> Response:
        try:
            caller, _exp = await self.authenticator.authenticate_request(request.scope)
        except AuthError as exc:
            return rest_error(401, "UNAUTHENTICATED", str(exc))
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return rest_error(400, "INVALID_INPUT", "send multipart/form-data with a `file` field")
        try:
            async with request.form(max_files=1, max_fields=10) as form:
                file = form.get("file")
                if not isinstance(file, UploadFile):
                    return rest_error(400, "INVALID_INPUT", "the multipart field `file` is missing")
                keep = str(form.get("keepConsent", "false")).strip().lower()
                if keep not in ("true", "false"):
                    return rest_error(400, "INVALID_INPUT", "keepConsent is true or false")
                report = await import_archive(
                    self.stores, caller, file.file, keep_consent=keep == "true"
                )
        except ValueError:
            return rest_error(400, "INVALID_INPUT", "the multipart body could not be parsed")
        except errors.DomainError as exc:
            shown = describe(exc)
            return rest_error(shown.http_status, shown.code, shown.message, **shown.extra)
        body = {
            "imageIds": [image.id for image in report.images],
            "consentKept": report.consent_kept,
        }
        return JSONResponse(body, status_code=201)
