"""An S3-protocol server on loopback (moto's server mode) and buckets on it.

No credentials leave the machine: the keys below are moto's to accept.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from api.settings import Settings

S3_KEY_ID, S3_SECRET = "meimages-test", "meimages-test-secret"
S3_PREFIX = "media"


@dataclass
class S3Server:
    endpoint: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
        )

    def new_bucket(self, prefix: str = "media") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def blob_url(self, bucket: str, prefix: str = S3_PREFIX) -> str:
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&region=us-east-1"

    def blob_settings(self, bucket: str) -> dict[str, str]:
        """The blob store settings, by Settings field name, for a bucket here."""
        return {
            "blob_url": self.blob_url(bucket),
            "s3_access_key_id": S3_KEY_ID,
            "s3_secret_access_key": S3_SECRET,
        }

    def blob_env(self, bucket: str) -> dict[str, str]:
        """The same settings as `MEIMAGES_*` variables, for a live server."""
        return {
            Settings.variable(name): value for name, value in self.blob_settings(bucket).items()
        }


@contextmanager
def s3_server() -> Iterator[S3Server]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
