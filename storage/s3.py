"""The S3-compatible blob store (AWS S3, MinIO, Cloudflare R2, Garage, …), via obstore.

obstore wraps the Rust `object_store` crate (Apache Arrow project): natively async,
one small wheel with no runtime dependencies, typed, with retries and connection
pooling built in — a better fit for an asyncio server than a botocore-based client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import obstore
from obstore.store import S3Store

from storage.blobs import BlobInfo, S3Credentials, check_key
from storage.errors import blob_store_failures

if TYPE_CHECKING:
    from obstore import Attributes
    from obstore.store import ClientConfig, RetryConfig


_OPAQUE: Attributes = {"Content-Type": "application/octet-stream"}


class S3BlobStore:
    """Objects under `prefix/` in one bucket. S3 PUTs are atomic and durable on success,
    so no temp-object dance is needed; nothing half-written is ever visible."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint: str = "",
        region: str = "",
        allow_http: bool | None = None,
        virtual_hosted: bool | None = None,
        credentials: S3Credentials | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("an s3:// blob URL needs a bucket: s3://BUCKET/PREFIX")
        self.bucket = bucket
        self.prefix = prefix
        config: dict[str, Any] = {}
        if endpoint:
            config["endpoint"] = endpoint
            # Self-hosted services (MinIO, Garage) and most gateways want path-style URLs.
            config["virtual_hosted_style_request"] = bool(virtual_hosted)
        elif virtual_hosted is not None:
            config["virtual_hosted_style_request"] = virtual_hosted
        config["region"] = region or "us-east-1"
        creds = credentials or S3Credentials()
        if creds.access_key_id:
            config["access_key_id"] = creds.access_key_id
            config["secret_access_key"] = creds.secret_access_key
        if creds.session_token:
            config["session_token"] = creds.session_token
        client: ClientConfig = {
            "allow_http": allow_http if allow_http is not None else endpoint.startswith("http:"),
            "connect_timeout": timedelta(seconds=5),
            "timeout": timedelta(seconds=60),
        }
        # Bounded: a dead endpoint surfaces as an error in seconds, not minutes.
        retry: RetryConfig = {"max_retries": 3, "retry_timeout": timedelta(seconds=20)}
        self._store = S3Store(
            bucket,
            prefix=prefix or None,
            config=config,  # type: ignore[arg-type]
            client_options=client,
            retry_config=retry,
        )

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    async def put(self, key: str, data: bytes) -> None:
        with blob_store_failures():
            # Objects say nothing about what they hold (sealed media is opaque bytes).
            await obstore.put_async(self._store, check_key(key), data, attributes=_OPAQUE)

    async def get(self, key: str) -> bytes | None:
        try:
            with blob_store_failures():
                result = await obstore.get_async(self._store, check_key(key))
                return bytes(await result.bytes_async())
        except FileNotFoundError:
            return None

    async def exists(self, key: str) -> bool:
        try:
            with blob_store_failures():
                await obstore.head_async(self._store, check_key(key))
        except FileNotFoundError:
            return False
        return True

    async def check(self) -> None:
        """Raise unless the bucket answers (the readiness probe): a missing key is fine,
        a missing bucket or refused credentials are not."""
        await self.exists("readiness-probe")

    async def delete(self, key: str) -> None:
        try:
            with blob_store_failures():
                await obstore.delete_async(self._store, check_key(key))
        except FileNotFoundError:
            return

    async def list_blobs(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        stream = obstore.list(self._store, prefix=prefix or None, chunk_size=500)
        async for batch in stream:
            for meta in batch:
                modified: datetime = meta["last_modified"]
                yield BlobInfo(meta["path"], int(meta["size"]), modified)

    async def discard_incomplete(self, older_than: datetime) -> int:
        # Single PUTs leave nothing behind when interrupted.
        return 0

    async def close(self) -> None:
        return None
