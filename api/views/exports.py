"""GET /exports/{export_id}/archive.zip: the download of a finished export, by signed URL."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from resolvers.config.portability import ARCHIVE_VARIANT
from resolvers.portability.jobs import archive_for_download, open_archive
from resolvers.stores import Stores

EXPORT_PATH = f"/exports/{{export_id}}/{ARCHIVE_VARIANT}"


class ExportDownloadRoute:
    """Only a valid, unexpired signature opens an archive; anything else (unknown,
    foreign, expired, tampered, not finished) gets the same 404."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    async def handle(self, request: Request) -> Response:
        not_found = Response("Not Found", status_code=404, media_type="text/plain")
        signer = self.stores.config.portability.downloads
        exp, sig = request.query_params.get("exp"), request.query_params.get("sig")
        if signer is None or not exp or not sig:
            return not_found
        export_id = request.path_params["export_id"]
        found = await archive_for_download(self.stores, export_id)
        if found is None:
            return not_found
        owner_id, path = found
        if not signer.verify(export_id, ARCHIVE_VARIANT, owner_id, exp, sig):
            return not_found
        download = await open_archive(self.stores, owner_id, path)
        if download is None:
            return not_found
        filename = f"meimages-export-{export_id}.zip"
        headers = {
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        if download.plaintext_file is not None:
            return FileResponse(
                download.plaintext_file,
                media_type="application/zip",
                filename=filename,
                headers=headers,
            )
        assert download.segments is not None
        # Opened segment by segment as it is sent (a sync iterator runs in the thread
        # pool): the archive is never held in memory, nor written anywhere in the clear.
        headers["Content-Length"] = str(download.size)
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return StreamingResponse(download.segments, media_type="application/zip", headers=headers)
