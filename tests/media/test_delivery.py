"""Delivery: signed expiring URLs, response headers, transforms cached after first use."""

from __future__ import annotations

import hashlib
import io
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from sqlalchemy import select

from api.views import media as media_view
from resolvers.cache_budget import CacheBudget
from resolvers.media.signed_urls import MediaUrlSigner, url_memo
from storage.tables import MediaObject, MediaVariant
from testbed import media_samples as samples
from tests.support.app import Api

TRANSFORM = """
  query($id: ID!, $w: Int, $h: Int, $fit: ImageFit!, $format: ImageFormat!) {
    meImage(id: $id) {
      mediaId storagePath
      transformUrl(width: $w, height: $h, fit: $fit, format: $format)
    }
  }"""


async def add_image(mapi: Api, owner: str, data: bytes) -> dict[str, Any]:
    image = await mapi.upload(
        data,
        user=owner,
        fields="__typename ... on MeImage { id mediaId storagePath publicUrl thumbnailUrl mediumUrl }",
    )
    assert image["__typename"] == "MeImage", image
    return image


async def transform_url(mapi: Api, owner: str, image_id: str, **args: Any) -> str:
    variables = {"id": image_id, "fit": "INSIDE", "format": "WEBP", **args}
    data = await mapi.gql(TRANSFORM, variables, user=owner)
    return str(data["meImage"]["transformUrl"])


async def test_img_style_fetch_works_without_a_token_while_the_signature_is_valid(
    mapi: Api, owner: str
) -> None:
    image = await add_image(mapi, owner, samples.noisy_jpeg((300, 200), seed=11))
    for name, content_type in (
        ("publicUrl", "image/jpeg"),
        ("thumbnailUrl", "image/webp"),
        ("mediumUrl", "image/webp"),
    ):
        response = await mapi.client.get(image[name])  # no Authorization header at all
        assert response.status_code == 200, name
        assert response.headers["content-type"] == content_type
        assert response.headers["x-content-type-options"] == "nosniff"
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "sandbox" in csp
        assert response.headers["content-disposition"].startswith('inline; filename="')
        # A browser revalidates every use, so a deletion or expiry reaches it at once.
        assert response.headers["cache-control"] == "private, no-cache"


async def test_etag_is_the_content_hash_and_if_none_match_gets_304(mapi: Api, owner: str) -> None:
    image = await add_image(mapi, owner, samples.noisy_jpeg((120, 90), seed=12))
    first = await mapi.client.get(image["publicUrl"])
    sha = hashlib.sha256(first.content).hexdigest()
    assert first.headers["etag"] == f'"{sha}"'
    again = await mapi.client.get(image["publicUrl"], headers={"If-None-Match": f'"x", W/"{sha}"'})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == f'"{sha}"'
    thumb = await mapi.client.get(image["thumbnailUrl"])
    assert thumb.headers["etag"] == f'"{sha}.thumbnail"'
    changed = await mapi.client.get(image["thumbnailUrl"], headers={"If-None-Match": f'"{sha}"'})
    assert changed.status_code == 200 and changed.content == thumb.content


async def test_expired_tampered_and_foreign_urls_all_look_like_missing_media(
    mapi: Api, owner: str, other_owner: str
) -> None:
    image = await add_image(mapi, owner, samples.noisy_jpeg((120, 90), seed=13))
    signer: MediaUrlSigner = mapi.app.state.server.urls
    media_id = image["mediaId"]
    url = image["publicUrl"]
    query = parse_qs(urlsplit(url).query)
    exp, sig = query["exp"][0], query["sig"][0]
    path = urlsplit(url).path
    missing = await mapi.client.get(
        f"/media/00000000-0000-0000-0000-000000000000/original?exp={exp}&sig={sig}"
    )
    assert missing.status_code == 404
    bad_urls = {
        "expired": signer.url(media_id, "original", owner, now=time.time() - 2 * signer.ttl_s),
        "tampered signature": f"{path}?exp={exp}&sig={sig[:-1]}{'0' if sig[-1] != '0' else '1'}",
        "later expiry": f"{path}?exp={int(exp) + 3600}&sig={sig}",
        "other variant": url.replace("/original?", "/thumbnail?"),
        "signed for another owner": signer.url(media_id, "original", other_owner),
        "no signature": path,
        "garbage expiry": f"{path}?exp=soon&sig={sig}",
        "non-ascii signature": f"{path}?exp={exp}&sig=%C3%A9{sig[2:]}",
    }
    for what, bad in bad_urls.items():
        response = await mapi.client.get(bad)
        assert response.status_code == 404, what
        assert response.content == missing.content, what
    # Expired for everyone: the other owner's bearer token does not help either.
    foreign = await mapi.client.get(path, headers=mapi.headers(other_owner))
    assert foreign.status_code == 404 and foreign.content == missing.content
    own = await mapi.client.get(path, headers=mapi.headers(owner))
    assert own.status_code == 200 and own.headers["cache-control"] == "private, no-cache"


def test_signature_lifetime_is_configurable_and_ends_exactly() -> None:
    signer = MediaUrlSigner(b"k" * 32, ttl_s=120)
    now = 1_800_000_000.0
    url = signer.url("m1", "thumbnail", "alice", now=now)
    exp = parse_qs(urlsplit(url).query)["exp"][0]
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    assert now + 120 < int(exp) <= now + 120 + 60
    assert signer.verify("m1", "thumbnail", "alice", exp, sig, now=int(exp) - 1)
    assert not signer.verify("m1", "thumbnail", "alice", exp, sig, now=int(exp))
    assert not signer.verify("m1", "thumbnail", "bob", exp, sig, now=now)
    assert not signer.verify("m1", "original", "alice", exp, sig, now=now)
    assert not signer.verify("m2", "thumbnail", "alice", exp, sig, now=now)
    assert not MediaUrlSigner(b"x" * 32, ttl_s=120).verify(
        "m1", "thumbnail", "alice", exp, sig, now=now
    )
    # Byte-identical URLs for a while, so browsers can cache them.
    assert signer.url("m1", "thumbnail", "alice", now=now + 1) == url


def test_the_url_memo_keeps_only_the_current_steps_urls() -> None:
    """URLs are remembered while their expiry step lasts; once it moves on, every URL is
    made anew, so the memo forgets the earlier ones (a deleted image's among them)."""
    memo = url_memo(CacheBudget())
    signer = MediaUrlSigner(b"k" * 32, ttl_s=3600, memo=memo)
    now = 1_800_000_000.0
    first = [signer.url(f"m{n}", "original", "alice", now=now) for n in range(50)]
    assert len(memo.cache) == 50
    assert [signer.url(f"m{n}", "original", "alice", now=now + 1) for n in range(50)] == first
    assert len(memo.cache) == 50  # answered from the memo: nothing new kept
    step = signer.expires_at(now=now + 900) - signer.expires_at(now=now)
    assert step == 900
    later = signer.url("m0", "original", "alice", now=now + step)
    assert later != first[0]
    assert len(memo.cache) == 1 and memo.cache.nbytes < 1024
    # A caller asking for an earlier moment still gets its right URL, made, not kept.
    assert signer.url("m1", "original", "alice", now=now) == first[1]
    assert len(memo.cache) == 1


def test_a_signer_makes_one_signer_per_prefix_and_keeps_a_bounded_number() -> None:
    """Per-origin signers are made once per prefix and share the base signer's memo; the
    prefixes (a client's Host header) cannot grow them without bound."""
    signer = MediaUrlSigner(b"k" * 32, ttl_s=3600)
    proxied = signer.under("https://a.example/media")
    assert signer.under("https://a.example/media") is proxied
    now = 1_800_000_000.0
    url = proxied.url("m0", "original", "alice", now=now)
    assert url.startswith("https://a.example/media/") and url != signer.url(
        "m0", "original", "alice", now=now
    )
    for n in range(200):
        assert signer.under(f"https://h{n}.example/media").prefix == f"https://h{n}.example/media"
    assert len(signer._under) <= 64


async def test_transforms_are_signed_bounded_and_cached_after_first_use(
    mapi: Api, owner: str
) -> None:
    image = await add_image(mapi, owner, samples.png_rgba((400, 300), seed=14))
    cases = [
        ({"w": 160, "h": 160, "fit": "COVER", "format": "PNG"}, "PNG", (160, 160)),
        ({"w": 160, "h": 160, "fit": "CONTAIN", "format": "WEBP"}, "WEBP", (160, 160)),
        ({"w": 160, "h": 160, "fit": "INSIDE", "format": "JPEG"}, "JPEG", (160, 120)),
        ({"w": 2000, "fit": "INSIDE", "format": "WEBP"}, "WEBP", (400, 300)),  # never enlarged
        ({"h": 60, "fit": "COVER", "format": "WEBP"}, "WEBP", (80, 60)),
    ]
    for args, fmt, size in cases:
        url = await transform_url(mapi, owner, image["id"], **args)
        first = await mapi.client.get(url)
        assert first.status_code == 200, (args, first.text)
        img = Image.open(io.BytesIO(first.content))
        assert (img.format, img.size) == (fmt, size), args
        assert first.headers["content-type"] == f"image/{fmt.lower()}"
        assert first.headers["x-content-type-options"] == "nosniff"
        second = await mapi.client.get(url)
        assert second.content == first.content
    # CONTAIN keeps transparency in the letterbox; JPEG flattens onto white.
    contain = await mapi.client.get(
        await transform_url(mapi, owner, image["id"], w=160, h=160, fit="CONTAIN", format="PNG")
    )
    letterboxed = Image.open(io.BytesIO(contain.content)).convert("RGBA")
    assert letterboxed.getpixel((80, 2))[3] == 0
    async with mapi.stores.db.session() as session:
        object_id = select(MediaObject.id).where(
            MediaObject.storage_path == image["storagePath"]  # type: ignore[arg-type]
        )
        cached = (
            (
                await session.execute(
                    select(MediaVariant).where(
                        MediaVariant.media_object_id.in_(object_id)  # type: ignore[attr-defined]
                    )
                )
            )
            .scalars()
            .all()
        )
    assert {v.spec for v in cached} >= {
        "w160h160-cover.png",
        "w160h160-contain.webp",
        "w160h160-inside.jpeg",
        "w2000-inside.webp",
        "h60-cover.webp",
    }
    keys = await mapi.blob_keys()
    assert all(v.storage_path in keys for v in cached)


async def test_transform_urls_cannot_be_rewritten_or_stretched(mapi: Api, owner: str) -> None:
    image = await add_image(mapi, owner, samples.noisy_jpeg((200, 150), seed=15))
    url = await transform_url(mapi, owner, image["id"], w=100, h=100, fit="COVER", format="WEBP")
    assert "/w100h100-cover.webp?" in url
    assert (await mapi.client.get(url)).status_code == 200
    for forged in (
        url.replace("w100h100", "w101h100"),
        url.replace("cover", "inside"),
        url.replace(".webp?", ".png?"),
        url.replace("w100h100", "w0100h100"),
    ):
        assert (await mapi.client.get(forged)).status_code == 404, forged
    response = await mapi.client.post(
        "/graphql",
        json={
            "query": TRANSFORM,
            "variables": {"id": image["id"], "w": 5000, "fit": "COVER", "format": "WEBP"},
        },
        headers=mapi.headers(owner),
    )
    errors = response.json()["errors"]
    assert errors and "between 1 and 2048" in errors[0]["message"]
    response = await mapi.client.post(
        "/graphql",
        json={
            "query": TRANSFORM,
            "variables": {"id": image["id"], "fit": "COVER", "format": "WEBP"},
        },
        headers=mapi.headers(owner),
    )
    assert "width, a height or both" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("variant", ["w0-cover.webp", "w3000-cover.webp", "x.webp", "original.png"])
async def test_unknown_variants_are_404_before_any_lookup(
    mapi: Api, owner: str, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A variant name the server would never make is refused without a lookup, even for
    a real image with a valid signature for that name."""
    image = await add_image(mapi, owner, samples.noisy_jpeg((120, 80), seed=12))
    signer: MediaUrlSigner = mapi.app.state.server.urls
    lookups: list[str] = []
    real_find = media_view.delivery.find_servable_media

    async def find(stores: Any, media_id: str) -> Any:
        lookups.append(media_id)
        return await real_find(stores, media_id)

    monkeypatch.setattr(media_view.delivery, "find_servable_media", find)
    response = await mapi.client.get(signer.url(image["mediaId"], variant, owner))
    assert response.status_code == 404
    assert lookups == []
    # The same signed URL of a variant the server makes is looked up (and served).
    served = await mapi.client.get(image["thumbnailUrl"])
    assert served.status_code == 200 and lookups == [image["mediaId"]]
