"""Every output says it is AI-made: each file served through its media URL carries a signed
C2PA manifest that validates (signature and hash binding) and names trainedAlgorithmicMedia,
plus the IPTC digital source type in XMP; a provider's own manifest is kept inside ours."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import struct
import zlib
from typing import Any

import c2pa
import pytest
from PIL import Image, PngImagePlugin

from testbed.content_credentials import (
    AI_GENERATED,
    PROVIDER_ORG,
    PROVIDER_SOFTWARE,
    UNTRUSTED,
    Verified,
    make_certificate,
    provider_signer,
    verify,
)
from tests.generation.conftest import (
    add_reference,
    blobs_patched,
    grant,
)
from tests.support.app import Api
from tests.support.provider_server import ProviderServer

CREDENTIALS = """
  id prompt
  images {
    index mediaId url thumbnailUrl contentType base64
    contentCredentials {
      digitalSourceType signer signedAt
      providerCredentials { signer claimGenerator valid }
    }
  }
"""
GENERATE = (
    "mutation($input: GenerationInput!) { generateWithReference(input: $input) {"
    " __typename ... on Generation {" + CREDENTIALS + "} ... on Error { code message } } }"
)
PROMPT = "me as a lighthouse keeper, canary-prompt-5c1e"


async def _generate(api: Api, owner: str, model: str, n: int = 1) -> dict[str, Any]:
    ref = await add_reference(api, owner, 31)
    await grant(api, owner, 100)
    variables = {
        "input": {"prompt": PROMPT, "referenceImageIds": [ref["id"]], "model": model, "n": n}
    }
    data = await api.gql(GENERATE, variables, user=owner)
    result: dict[str, Any] = data["generateWithReference"]
    assert result["__typename"] == "Generation", result
    result["referenceId"] = ref["id"]
    return result


async def _served(api: Api, url: str) -> bytes:
    response = await api.client.get(url)
    assert response.status_code == 200
    # Served as stored: the ETag is the stored content's hash.
    assert response.headers["etag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'
    return response.content


def _assert_valid(found: Verified, *, trusted: bool) -> None:
    assert found.state == ("Trusted" if trusted else "Valid"), found.results
    assert {"claimSignature.validated", "assertion.dataHash.match"} <= found.codes("success")
    assert found.codes("failure") == (set() if trusted else {UNTRUSTED})


def _assert_says_ai_made(found: Verified, model: str, *, opened: bool) -> None:
    [action] = found.actions
    assert action["action"] == ("c2pa.opened" if opened else "c2pa.created")
    assert action["digitalSourceType"] == AI_GENERATED
    assert action["softwareAgent"]["name"] == "meimages"
    assert action["parameters"]["meimages.model"] == model
    assert found.active["claim_generator_info"][0]["name"] == "meimages"


def _assert_no_personal_data(data: bytes, store: dict[str, Any], *secrets: str) -> None:
    text = json.dumps(store)
    for secret in secrets:
        assert secret not in text
        assert secret.encode() not in data


def _xmp_source_type(data: bytes) -> str | None:
    with Image.open(io.BytesIO(data)) as img:
        xmp = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp") or b""
    xmp = xmp.encode() if isinstance(xmp, str) else xmp
    found = re.search(rb"<Iptc4xmpExt:DigitalSourceType>([^<]+)<", xmp)
    return found[1].decode() if found else None


async def test_every_stored_output_carries_a_valid_signed_manifest(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    result = await _generate(gen_api, owner, "openai/gpt-image-2", n=2)
    server_ca = gen_api.stores.config.signing.ca_pem
    assert server_ca is not None
    for image in result["images"]:
        data = await _served(gen_api, image["url"])
        found = verify(data, image["contentType"])
        _assert_valid(found, trusted=False)
        _assert_says_ai_made(found, "openai/gpt-image-2", opened=False)
        assert found.active.get("ingredients", []) == []
        # Given this server's CA as a trust anchor, the same file verifies as trusted.
        _assert_valid(verify(data, image["contentType"], server_ca), trusted=True)
        # Readers that do not speak C2PA find the IPTC digital source type in XMP.
        assert _xmp_source_type(data) == AI_GENERATED
        _assert_no_personal_data(
            data, found.store, PROMPT, owner, result["id"], result["referenceId"], image["mediaId"]
        )
        credentials = image["contentCredentials"]
        assert credentials["digitalSourceType"] == AI_GENERATED
        assert credentials["signer"] == found.active["signature_info"]["issuer"]
        assert credentials["providerCredentials"] is None


async def test_the_providers_manifest_is_kept_as_a_valid_parent_ingredient(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    cert = make_certificate()
    provider.output_credentials = provider_signer(cert)
    for model in ("openai/gpt-image-1", "google/gemini-2.5-flash-image"):
        result = await _generate(gen_api, owner, model)
        [image] = result["images"]
        data = await _served(gen_api, image["url"])
        found = verify(data, image["contentType"])
        _assert_valid(found, trusted=False)
        _assert_says_ai_made(found, model, opened=True)
        [ingredient] = found.active["ingredients"]
        assert ingredient["relationship"] == "parentOf"
        # The provider's manifest is in the store, and its signature still verifies.
        theirs = found.store["manifests"][ingredient["active_manifest"]]
        assert theirs["signature_info"]["issuer"] == PROVIDER_ORG
        assert theirs["claim_generator_info"][0]["name"] == PROVIDER_SOFTWARE
        checked = ingredient["validation_results"]["activeManifest"]
        assert "claimSignature.validated" in {c["code"] for c in checked["success"]}
        assert {c["code"] for c in checked["failure"]} == {UNTRUSTED}
        for delta in found.results.get("ingredientDeltas", []):
            assert delta["validationDeltas"]["failure"] == []
        # Trusting both CAs, ours and the provider's verify as trusted.
        both = verify(
            data, image["contentType"], gen_api.stores.config.signing.ca_pem or b"", cert.ca_pem
        )
        _assert_valid(both, trusted=True)
        assert image["contentCredentials"]["providerCredentials"] == {
            "signer": PROVIDER_ORG,
            "claimGenerator": PROVIDER_SOFTWARE,
            "valid": True,
        }
        _assert_no_personal_data(data, found.store, PROMPT, owner, result["id"])


async def test_tampering_with_one_byte_of_a_stored_output_fails_validation(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    result = await _generate(gen_api, owner, "openai/gpt-image-2")
    [image] = result["images"]
    media = await _media(gen_api, image["mediaId"])
    sealed = gen_api.stores.sealed
    stored = await sealed.get(owner, media.storage_path)
    assert stored is not None
    # One bit of the pixel data, in the store itself (sealed again under the owner's key,
    # as any write is); then read as anyone would.
    at = stored.index(b"IDAT") + 40
    tampered = stored[:at] + bytes([stored[at] ^ 0x01]) + stored[at + 1 :]
    await (await sealed.owner(owner)).put(media.storage_path, tampered)
    response = await gen_api.client.get(image["url"])
    assert response.status_code == 200 and response.content == tampered
    found = verify(response.content, image["contentType"])
    assert found.state == "Invalid"
    assert "assertion.dataHash.mismatch" in found.codes("failure")


async def _media(api: Api, media_id: str) -> Any:
    from resolvers.media import delivery

    media = await delivery.find_servable_media(api.stores, media_id)
    assert media is not None
    return media


async def test_inline_outputs_carry_the_same_manifest(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    cert = make_certificate()
    provider.output_credentials = provider_signer(cert)

    async def store_down(key: str, data: bytes) -> None:
        raise OSError("store unreachable")

    ref = await add_reference(gen_api, owner, 32)
    await grant(gen_api, owner, 100)
    with blobs_patched(gen_api, put=store_down):
        data = await gen_api.gql(
            GENERATE,
            {"input": {"prompt": PROMPT, "referenceImageIds": [ref["id"]], "n": 2}},
            user=owner,
        )
    result = data["generateWithReference"]
    assert result["__typename"] == "Generation", result
    for image in result["images"]:
        assert image["mediaId"] is None
        inline = base64.b64decode(image["base64"])
        found = verify(inline, image["contentType"])
        _assert_valid(found, trusted=False)
        _assert_says_ai_made(found, "openai/gpt-image-2", opened=True)
        [ingredient] = found.active["ingredients"]
        assert (
            found.store["manifests"][ingredient["active_manifest"]]["signature_info"]["issuer"]
            == PROVIDER_ORG
        )
        assert _xmp_source_type(inline) == AI_GENERATED
        assert image["contentCredentials"]["providerCredentials"]["valid"] is True


async def test_renditions_carry_the_mark_and_uploads_carry_none(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    result = await _generate(gen_api, owner, "openai/gpt-image-2")
    [image] = result["images"]
    for variant in (
        "thumbnail",
        "medium",
        "w120-cover.jpeg",
        "w90h60-contain.png",
        "h64-inside.webp",
    ):
        response = await gen_api.client.get(
            f"/media/{image['mediaId']}/{variant}", headers=gen_api.headers(owner)
        )
        assert response.status_code == 200, variant
        assert _xmp_source_type(response.content) == AI_GENERATED, variant
    # A reference photo keeps losing every metadata block, its renditions included.
    upload = await gen_api.gql(
        "query($id: ID!) { meImage(id: $id) { publicUrl thumbnailUrl } }",
        {"id": result["referenceId"]},
        user=owner,
    )
    for url in upload["meImage"].values():
        response = await gen_api.client.get(url)
        assert response.status_code == 200
        with Image.open(io.BytesIO(response.content)) as img:
            assert "xmp" not in img.info and "XML:com.adobe.xmp" not in img.info


async def test_a_signing_fault_never_loses_the_image_nor_claims_credentials(
    gen_api: Api, owner: str, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resolvers.generation import provenance

    real_sign = provenance.sign
    provider.output_credentials = provider_signer(make_certificate())

    def no_ingredients(*args: Any, provider_output: Any = None, **kwargs: Any) -> bytes:
        if provider_output is not None:
            raise provenance.SigningFailed("ingredient refused")
        return real_sign(*args, provider_output=None, **kwargs)

    # The provider's manifest cannot be taken in: ours is signed without it.
    monkeypatch.setattr(provenance, "sign", no_ingredients)
    result = await _generate(gen_api, owner, "openai/gpt-image-2")
    [image] = result["images"]
    found = verify(await _served(gen_api, image["url"]), image["contentType"])
    _assert_valid(found, trusted=False)
    _assert_says_ai_made(found, "openai/gpt-image-2", opened=False)
    assert image["contentCredentials"]["providerCredentials"] is None

    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise provenance.SigningFailed("no signer")

    # Signing fails altogether: the image is kept, marked in XMP, and nothing is claimed.
    monkeypatch.setattr(provenance, "sign", broken)
    data = await gen_api.gql(
        GENERATE,
        {"input": {"prompt": PROMPT, "referenceImageIds": [result["referenceId"]]}},
        user=owner,
    )
    unsigned = data["generateWithReference"]
    assert unsigned["__typename"] == "Generation", unsigned
    [image] = unsigned["images"]
    assert image["contentCredentials"] is None
    served = await _served(gen_api, image["url"])
    assert _xmp_source_type(served) == AI_GENERATED
    with pytest.raises(c2pa.C2paError):
        verify(served, image["contentType"])
    warned = await gen_api.gql(
        "query($id: ID!) { generation(id: $id) { ... on Generation { warning } } }",
        {"id": unsigned["id"]},
        user=owner,
    )
    assert "could not be signed" in warned["generation"]["warning"]


def test_a_provider_manifest_that_does_not_verify_is_kept_and_said_so() -> None:
    """The provider's word is kept as it came, broken or not; ours still validates."""
    from resolvers.config.signing import SigningIdentity
    from resolvers.generation import provenance
    from resolvers.generation.outputs import mark_output
    from resolvers.limits import Limits

    note = PngImagePlugin.PngInfo()
    note.add_text("note", "covered by the provider's hash")
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (9, 99, 199)).save(png, "PNG", pnginfo=note)
    signed = provider_signer(make_certificate())(png.getvalue())
    # One byte of a chunk the provider's hash covers, with the chunk's CRC made right again.
    at = signed.index(b"tEXtnote")
    length = struct.unpack(">I", signed[at - 4 : at])[0]
    body = bytearray(signed[at + 4 : at + 4 + length])
    body[-1] ^= 0x01
    chunk = b"tEXt" + bytes(body)
    broken = signed[:at] + chunk + struct.pack(">I", zlib.crc32(chunk)) + signed[at + 8 + length :]
    assert verify(broken, "image/png").state == "Invalid"

    identity = SigningIdentity.ephemeral()
    origin = provenance.Origin("openai", "openai/gpt-image-2")
    output = mark_output(broken, "image/png", Limits(), identity, origin)
    assert output.credentials is not None and output.credentials.provider is not None
    assert output.credentials.provider.valid is False
    assert output.credentials.provider.signer == PROVIDER_ORG
    found = verify(output.image.data, "image/png")
    _assert_valid(found, trusted=False)
    [ingredient] = found.active["ingredients"]
    recorded = ingredient["validation_results"]["activeManifest"]["failure"]
    assert "assertion.dataHash.mismatch" in {c["code"] for c in recorded}
