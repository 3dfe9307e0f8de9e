"""Export from a SQLite + local-folder server, import into a PostgreSQL + S3 server: the
pools compare equal, image bytes included; consent travels only when asked."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from resolvers.generation import credits
from testbed.content_credentials import AI_GENERATED, verify
from testbed.images import jpeg, png, webp
from tests.portability.archives import (
    document,
    entries,
    export_via_graphql,
    import_via_graphql,
    pool_of,
    served,
)
from tests.support.app import Api

SET_AI = "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }"
GENERATE = """mutation($input: GenerationInput!) { generateWithReference(input: $input) {
  __typename ... on Generation { id images { mediaId url } } ... on Error { code message } } }"""

# (photo, upload input, opted in)
PHOTOS: list[tuple[bytes, dict[str, Any], bool]] = [
    (
        jpeg(1),
        {"kind": "FACE", "label": "studio", "tags": ["front", "day"], "primaryFor": "FACE_REF"},
        True,
    ),
    (png(2), {"kind": "FULLBODY", "label": "beach", "primaryFor": "BODY_REF"}, False),
    (webp(3), {"kind": "HANDS", "tags": ["ring"], "showInProfile": False}, True),
    (jpeg(4, (640, 480)), {"kind": "REFERENCE", "label": "Ünïcødé label ✓"}, False),
    (png(5, (200, 300)), {"kind": "HALFBODY", "primaryFor": "AVATAR"}, False),
]


async def fill_pool(api: Api, owner: str) -> list[dict[str, Any]]:
    images = []
    for photo, details, opted_in in PHOTOS:
        image = await api.upload_image(photo, user=owner, input=details)
        if opted_in:
            await api.gql(SET_AI, {"id": image["id"]}, user=owner)
        images.append(image)
    return images


def oldest_first(pool: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(pool["meImages"], key=lambda image: image["createdAt"])


def comparable(pool: dict[str, Any], *, consent: bool) -> list[tuple[Any, ...]]:
    """What must survive the trip, oldest first (whatever order the pool lists)."""
    return [
        (
            image["kind"],
            image["label"],
            tuple(image["tags"]),
            image["primaryFor"],
            image["createdAt"],
            image["updatedAt"],
            image["contentType"],
            image["width"],
            image["height"],
            image["usage"]["showInProfile"],
            image["usage"]["aiReference"] if consent else False,
        )
        for image in oldest_first(pool)
    ]


async def image_bytes(api: Api, pool: dict[str, Any]) -> list[bytes]:
    return [await served(api, image["publicUrl"]) for image in oldest_first(pool)]


async def test_a_pool_survives_sqlite_local_to_postgres_s3(source: Api, target: Api) -> None:
    assert (source.backend, source.blobs_kind) == ("sqlite", "local")
    assert (target.backend, target.blobs_kind) == ("postgres", "s3")
    owner = f"leaver-{uuid.uuid4().hex[:8]}"
    await fill_pool(source, owner)
    before = await pool_of(source, owner)
    job, archive = await export_via_graphql(source, owner)
    assert job["imagesTotal"] == job["imagesDone"] == len(PHOTOS)

    # Consent stays behind by default ...
    newcomer = f"newcomer-{uuid.uuid4().hex[:8]}"
    result = await import_via_graphql(target, newcomer, archive)
    assert result["__typename"] == "DataImport", result
    assert result["consentKept"] is False and len(result["images"]) == len(PHOTOS)
    after = await pool_of(target, newcomer)
    assert comparable(after, consent=False) == comparable(before, consent=False)
    assert not any(image["usage"]["aiReference"] for image in after["meImages"])
    assert await image_bytes(target, after) == await image_bytes(source, before)

    # ... and travels when asked.
    keeper = f"keeper-{uuid.uuid4().hex[:8]}"
    kept = await import_via_graphql(target, keeper, archive, keep_consent=True)
    assert kept["__typename"] == "DataImport" and kept["consentKept"] is True
    restored = await pool_of(target, keeper)
    assert comparable(restored, consent=True) == comparable(before, consent=True)
    assert [i["usage"]["aiReference"] for i in oldest_first(restored)] == [p[2] for p in PHOTOS]
    assert await image_bytes(target, restored) == await image_bytes(source, before)

    # The restored images are the target owner's, under the target's own ids and URLs.
    assert {i["id"] for i in restored["meImages"]}.isdisjoint(i["id"] for i in before["meImages"])


async def test_the_archive_holds_pool_history_ledger_and_a_readme(source: Api) -> None:
    owner = f"archivist-{uuid.uuid4().hex[:8]}"
    images = await fill_pool(source, owner)
    stores = source.stores
    await credits.grant(stores.db, stores.config.generation, owner, 50, "trial")
    face = images[0]["id"]
    made = (
        await source.gql(
            GENERATE,
            {"input": {"prompt": "me on the moon", "referenceImageIds": [face], "n": 2}},
            user=owner,
        )
    )["generateWithReference"]
    assert made["__typename"] == "Generation", made

    _job, archive = await export_via_graphql(source, owner)
    files = entries(archive)
    documents = ("manifest.json", "pool.json", "generations.json", "credits.json", "usage.json")
    assert {"README.txt", *documents} <= set(files)
    readme = files["README.txt"].decode()
    for name in (*documents, "images/"):
        assert name in readme

    manifest = document(archive, "manifest.json")
    assert (manifest["format"], manifest["version"]) == ("meimages-export", 1)
    ledger = document(archive, "credits.json")
    uses = document(archive, "usage.json")["uses"]
    assert manifest["counts"] == {
        "images": 5,
        "generations": 1,
        "creditEntries": len(ledger["entries"]),
        "uses": len(uses),
    }
    # The generation's references were sent once each; the ledger says where they went.
    [generation] = document(archive, "generations.json")["generations"]
    assert sorted(u["imageId"] for u in uses) == sorted(generation["referenceIds"])
    assert {(u["generationId"], u["outcome"]) for u in uses} == {(generation["id"], "succeeded")}

    pool = document(archive, "pool.json")
    assert pool["aiUsesReferenceImages"] is True
    first = next(image for image in pool["images"] if image["label"] == "studio")
    assert (first["kind"], first["label"], first["tags"], first["primaryFor"]) == (
        "face",
        "studio",
        ["front", "day"],
        "face-ref",
    )
    assert first["usage"] == {"aiReference": True, "showInProfile": True}
    served_pool = {i["id"]: i for i in (await pool_of(source, owner))["meImages"]}
    assert [i["createdAt"] for i in pool["images"]] == sorted(
        i["createdAt"] for i in pool["images"]
    )
    for item in pool["images"]:
        shown = served_pool[item["id"]]
        data = files[item["file"]]
        assert hashlib.sha256(data).hexdigest() == item["sha256"]
        assert data == await served(source, shown["publicUrl"])

    (generation,) = document(archive, "generations.json")["generations"]
    assert generation["id"] == made["id"] and generation["prompt"] == "me on the moon"
    assert generation["referenceIds"] == [face] and generation["status"] == "succeeded"
    assert generation["modelRequested"] == "openai/gpt-image-2"
    assert len(generation["outputs"]) == 2
    for output, image in zip(generation["outputs"], made["images"], strict=True):
        assert output["mediaId"] == image["mediaId"]
        assert files[output["file"]] == await served(source, image["url"])
        # The exported output is the signed file: its Content Credentials still verify.
        assert verify(files[output["file"]], output["contentType"]).state == "Valid"
        assert output["credentials"]["digitalSourceType"] == AI_GENERATED

    # The welcome entry (0 credits on this server), the grant, the charge.
    reasons = [e["reason"] for e in ledger["entries"]]
    assert reasons[-2:] == ["grant", "generation"] and set(reasons) <= {
        "welcome",
        "grant",
        "generation",
    }
    charge = ledger["entries"][-1]
    assert charge["generationId"] == made["id"] and charge["delta"] < 0
    assert ledger["balance"] == sum(e["delta"] for e in ledger["entries"]) == 50 + charge["delta"]
    profile = await source.gql("{ profile { credits } }", user=owner)
    assert profile["profile"]["credits"] == ledger["balance"]


async def test_an_archive_imported_before_is_refused_by_name(source: Api, target: Api) -> None:
    owner = f"twice-{uuid.uuid4().hex[:8]}"
    await fill_pool(source, owner)
    job, archive = await export_via_graphql(source, owner)
    exported_at = document(archive, "manifest.json")["exportedAt"]
    # Into its own pool, where every image still is (SQLite + local folder) ...
    again = await import_via_graphql(source, owner, archive)
    assert again["__typename"] == "InvalidArchiveError", again
    assert (again["code"], again["problem"], again["entry"]) == (
        "INVALID_ARCHIVE",
        "ALREADY_IMPORTED",
        "manifest.json",
    )
    assert exported_at in again["message"] and "'personal'" in again["message"]
    assert len((await pool_of(source, owner))["meImages"]) == len(PHOTOS)
    # ... and into another server (PostgreSQL + S3): the first import lands, the second not.
    mover = f"mover-{uuid.uuid4().hex[:8]}"
    first = await import_via_graphql(target, mover, archive)
    assert first["__typename"] == "DataImport" and len(first["images"]) == len(PHOTOS)
    second = await import_via_graphql(target, mover, archive)
    assert second["__typename"] == "InvalidArchiveError" and second["problem"] == "ALREADY_IMPORTED"
    assert len((await pool_of(target, mover))["meImages"]) == len(PHOTOS)
    assert job["imagesTotal"] == len(PHOTOS)
