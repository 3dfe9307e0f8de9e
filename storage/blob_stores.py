"""Which blob store a URL names: a local folder, or any S3-compatible service.

Apart from `storage.blobs` so that the S3 store, which builds on the blob protocol there,
is imported only here and only when a URL asks for it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from storage.blobs import BlobStore, LocalBlobStore, S3Credentials


def open_blob_store(
    url: str, *, default_dir: Path, credentials: S3Credentials | None = None
) -> BlobStore:
    """Pick the store by URL: empty or `file:///dir` is a local folder, `s3://bucket/prefix`
    any S3-compatible service (`?endpoint=https://…&region=…` for MinIO, R2, Garage …)."""
    if not url:
        return LocalBlobStore(default_dir)
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalBlobStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        from storage.s3 import S3BlobStore

        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return S3BlobStore(
            bucket=parts.netloc,
            prefix=unquote(parts.path).strip("/"),
            endpoint=options.get("endpoint", ""),
            region=options.get("region", ""),
            allow_http=_flag(options.get("allow_http")),
            virtual_hosted=_flag(options.get("virtual_hosted")),
            credentials=credentials or S3Credentials(),
        )
    raise ValueError(f"unsupported blob store URL scheme {parts.scheme!r} (use file:// or s3://)")


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")
