"""Deployments the operations tests back up and restore: the embedded default (SQLite +
local folder) and PostgreSQL + S3 (a throwaway database, a bucket on moto).

A deployment is the settings of one server; `fresh()` makes an empty one of the same
kind (a new folder, database and bucket) for a restore to go into. Commands run as the
operator runs them: `meimages ARGS` in a process of its own, with exactly these settings,
forked from a process that has imported it already (`testbed.forkserver`: the very
entry point of the installed command, without paying its imports at every step).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from testbed.forkserver import Forked, ForkServer
from testbed.graphql import IMAGE_FIELDS, GraphQLClient
from testbed.server import LiveServer, clean_environment, deployment_secrets, start_server
from tests.support.databases import create_database, drop_database
from tests.support.s3 import S3_PREFIX, S3Server

DEPLOYMENTS = ("sqlite-local", "postgres-s3")
# Safety net against a hang, never a verdict about speed.
COMMAND_TIMEOUT_S = 600


@dataclass
class Deployment:
    kind: str
    data_dir: Path
    forks: ForkServer = field(repr=False)
    settings: dict[str, str] = field(default_factory=dict)
    database: str | None = None

    def env(self) -> dict[str, str]:
        return clean_environment(
            {
                **self.settings,
                "MEIMAGES_DATA_DIR": str(self.data_dir),
                "MEIMAGES_LOG_LEVEL": "warning",
            }
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`meimages ARGS` against this deployment, to the end."""
        return self.forks.run(list(args), self.env(), COMMAND_TIMEOUT_S)

    async def start(self, *args: str) -> Forked:
        """`meimages ARGS` started in the background (`communicate()` for its output)."""
        return self.forks.start(list(args), self.env())


class Deployments:
    """Makes deployments of one kind and removes their databases afterwards."""

    def __init__(self, kind: str, root: Path, s3: S3Server | None, forks: ForkServer) -> None:
        self.kind = kind
        self.root = root
        self.s3 = s3
        self.forks = forks
        self.made: list[Deployment] = []
        # One deployment's secrets: a restored PostgreSQL deployment keeps the master key
        # it always had (set in the environment, never in a backup).
        self.secrets = deployment_secrets() if kind == "postgres-s3" else {}

    async def fresh(self, name: str) -> Deployment:
        data_dir = self.root / name
        if self.kind == "sqlite-local":
            made = Deployment(self.kind, data_dir, self.forks)
        else:
            assert self.s3 is not None
            url = await create_database("meimages_ops")
            settings = {
                **self.secrets,
                "MEIMAGES_DATABASE_URL": url,
                **self.s3.blob_env(self.s3.new_bucket("ops")),
            }
            made = Deployment(self.kind, data_dir, self.forks, settings, url)
        self.made.append(made)
        return made

    async def close(self) -> None:
        for made in self.made:
            if made.database is not None:
                await drop_database(made.database)


_FIELDS = IMAGE_FIELDS.replace("... on Error { code message }", "")
POOL_QUERY = (
    "query($kind: MeImageKind) { meImages(kind: $kind, order: OLDEST_FIRST) { " + _FIELDS + " } }"
)
PROFILE_QUERY = "{ profile { ownerId spaceId aiUsesReferenceImages avatar { id mediaId } } }"
REFERENCES_QUERY = (
    "{ referenceImages(order: OLDEST_FIRST) { id kind usage { aiReference } } "
    "face: meImageByPrimary(slot: FACE_REF) { id } "
    "avatar: meImageByPrimary(slot: AVATAR) { id } }"
)


def _without_signatures(value: object) -> object:
    """Answers with each signed media URL cut to its path: signatures carry their expiry,
    and absolute URLs the server's own address."""
    if isinstance(value, dict):
        return {
            key: (
                urlsplit(str(item)).path
                if key in ("publicUrl", "thumbnailUrl")
                else _without_signatures(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_without_signatures(item) for item in value]
    return value


def media_url(client: GraphQLClient, url: str) -> str:
    """Media URLs are relative to the server (no public base URL is set)."""
    return client.url.removesuffix("/graphql") + url if url.startswith("/") else url


async def answers(client: GraphQLClient, owners: list[str]) -> dict[str, object]:
    """What a fixed set of queries answers for each owner (signatures cut off), and the
    bytes every image's URL serves."""
    found: dict[str, object] = {}
    for owner in owners:
        pool = await client.gql(POOL_QUERY, user=owner)
        found[f"{owner} pool"] = _without_signatures(pool)
        for kind in ("FACE", "HANDS"):
            found[f"{owner} {kind}"] = _without_signatures(
                await client.gql(POOL_QUERY, {"kind": kind}, user=owner)
            )
        found[f"{owner} profile"] = await client.gql(PROFILE_QUERY, user=owner)
        found[f"{owner} references"] = await client.gql(REFERENCES_QUERY, user=owner)
        for image in pool["meImages"]:
            media = await client.http.get(media_url(client, image["publicUrl"]))
            assert media.status_code == 200, media.text
            found[f"{owner} bytes {image['id']}"] = media.content
    return found


def serve(deployment: Deployment, started: list[LiveServer]) -> LiveServer:
    """`meimages serve` on the deployment; `started` is the test's list to stop at the end."""
    server = start_server(deployment.data_dir, deployment.settings, spawn=deployment.forks.spawn)
    started.append(server)
    return server


def blob_exists(deployment: Deployment, s3: S3Server | None, key: str) -> bool:
    """Whether the deployment's blob store holds `key`, looked at directly."""
    if s3 is None:
        return (deployment.data_dir / "media" / key).is_file()
    url = deployment.settings["MEIMAGES_BLOB_URL"]
    bucket = url.removeprefix("s3://").split("/", 1)[0]
    found = s3.client().list_objects_v2(Bucket=bucket, Prefix=f"{S3_PREFIX}/{key}")
    return bool(found.get("Contents"))
