"""Content Credentials of generated images: the signed C2PA manifest and the IPTC mark.

Every output this server stores is marked twice: XMP `Iptc4xmpExt:DigitalSourceType`
(for readers that do not speak C2PA) and a C2PA manifest signed by this server's
identity, whose first action names `trainedAlgorithmicMedia`, the model and this server.
When the provider's own output carried a manifest, that output becomes the manifest's
`parentOf` ingredient, so the provider's signed word is kept inside ours.

What a manifest holds is deliberately little: the action, the model and provider, this
server's name and version, the time, and the provider's manifest when there was one.
Never the prompt, labels, tags, owner or image ids.

This is the one module that speaks to the c2pa library (public API only).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import c2pa
from PIL import Image

from resolvers.config.signing import SigningIdentity
from resolvers.media.source_type import TRAINED_ALGORITHMIC_MEDIA

SOFTWARE = "meimages"

# Readers never go to the network: a provider's file could name any URL.
_SETTINGS: dict[str, Any] = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    "builder": {"thumbnail": {"enabled": False}},
}
_VALID_STATES = ("Valid", "Trusted")


def software_version() -> str:
    try:
        return metadata.version(SOFTWARE)
    except metadata.PackageNotFoundError:
        return "0"


@dataclass(frozen=True)
class ProviderCredentials:
    """What the provider's own manifest said, as it arrived."""

    # The organisation (or name) of the provider's signing certificate.
    signer: str | None
    # The software the provider's manifest names as its maker.
    claim_generator: str | None
    # Its signature and its binding to the provider's bytes verified on arrival.
    valid: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "signer": self.signer,
            "claimGenerator": self.claim_generator,
            "valid": self.valid,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProviderCredentials:
        return cls(
            _str_or_none(data.get("signer")),
            _str_or_none(data.get("claimGenerator")),
            bool(data.get("valid")),
        )


@dataclass(frozen=True)
class ContentCredentials:
    """What the manifest in a stored output says, as recorded with the generation."""

    digital_source_type: str
    signer: str
    signed_at: dt.datetime
    provider: ProviderCredentials | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "digitalSourceType": self.digital_source_type,
            "signer": self.signer,
            "signedAt": self.signed_at.isoformat(),
            "provider": self.provider.to_json() if self.provider else None,
        }

    @classmethod
    def from_json(cls, data: object) -> ContentCredentials | None:
        if not isinstance(data, dict):
            return None
        try:
            signed_at = dt.datetime.fromisoformat(str(data["signedAt"]))
            provider = data.get("provider")
            return cls(
                str(data["digitalSourceType"]),
                str(data["signer"]),
                signed_at,
                ProviderCredentials.from_json(provider) if isinstance(provider, dict) else None,
            )
        except (KeyError, ValueError):
            return None


def _str_or_none(value: object) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def _context() -> c2pa.Context:
    return c2pa.Context.from_dict(_SETTINGS)


def read_manifest(data: bytes, content_type: str) -> tuple[dict[str, Any], str] | None:
    """The active manifest of an image and its validation state; None without one."""
    try:
        with (
            _context() as context,
            c2pa.Reader(content_type, io.BytesIO(data), context=context) as reader,
        ):
            manifest = reader.get_active_manifest()
            state = reader.get_validation_state() or "Invalid"
    except (c2pa.C2paError, ValueError, OSError):
        # No manifest, or one this library cannot read: the same to us (a provider's
        # file is untrusted input).
        return None
    return (manifest, state) if isinstance(manifest, dict) else None


def provider_credentials(data: bytes, content_type: str) -> ProviderCredentials | None:
    """What the provider's manifest in its output says, or None when it carried none."""
    found = read_manifest(data, content_type)
    if found is None:
        return None
    manifest, state = found
    info = manifest.get("signature_info")
    signer = None
    if isinstance(info, dict):
        signer = _str_or_none(info.get("issuer")) or _str_or_none(info.get("common_name"))
    generator = None
    generators = manifest.get("claim_generator_info")
    if isinstance(generators, list) and generators and isinstance(generators[0], dict):
        generator = _str_or_none(generators[0].get("name"))
    generator = generator or _str_or_none(manifest.get("claim_generator"))
    return ProviderCredentials(signer, generator, state in _VALID_STATES)


@dataclass(frozen=True)
class Origin:
    """What made an image: the provider and the model actually used."""

    provider: str
    model: str


def _definition(
    origin: Origin, content_type: str, signed_at: dt.datetime, parent: bool
) -> dict[str, Any]:
    agent = {"name": SOFTWARE, "version": software_version()}
    action: dict[str, Any] = {
        # C2PA: an asset with a parentOf ingredient is `opened` from it; `created` is for
        # an asset without a parent (the c2pa builder refuses `created` with a parent).
        "action": "c2pa.opened" if parent else "c2pa.created",
        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
        "softwareAgent": agent,
        "when": signed_at.isoformat(),
        "description": f"generated by the image model {origin.model} ({origin.provider}), "
        f"stored by {SOFTWARE}",
        "parameters": {"meimages.model": origin.model, "meimages.provider": origin.provider},
    }
    if parent:
        action["parameters"]["ingredientIds"] = ["provider-output"]
    return {
        "claim_generator_info": [agent],
        "title": "generated image",
        "format": content_type,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }


class SigningFailed(Exception):
    """The c2pa library could not sign (a bug or an identity gone bad); logged by callers."""


def sign(
    identity: SigningIdentity,
    data: bytes,
    content_type: str,
    origin: Origin,
    *,
    provider_output: tuple[bytes, str] | None = None,
    signed_at: dt.datetime | None = None,
) -> bytes:
    """`data` with a signed manifest embedded; `provider_output` (bytes and type of what
    the provider sent, when it carried its own manifest) becomes the parentOf ingredient."""
    when = signed_at or dt.datetime.now(dt.UTC)
    definition = _definition(origin, content_type, when, provider_output is not None)
    info = c2pa.C2paSignerInfo(identity.algorithm, identity.chain_pem, identity.key_pem, None)
    out = io.BytesIO()
    try:
        with (
            _context() as context,
            c2pa.Signer.from_info(info) as signer,
            c2pa.Builder(definition, context) as builder,
        ):
            if provider_output is not None:
                raw, raw_type = provider_output
                builder.add_ingredient(
                    {
                        "title": "provider output",
                        "relationship": "parentOf",
                        "label": "provider-output",
                    },
                    raw_type,
                    io.BytesIO(raw),
                )
            builder.sign(signer, content_type, io.BytesIO(data), out)
    except c2pa.C2paError as exc:
        raise SigningFailed(str(exc)) from exc
    return out.getvalue()


def check_identity(identity: SigningIdentity) -> None:
    """Sign a tiny image and read it back: the identity works with this c2pa library, or
    ValueError says what the validator found wrong."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (128, 128, 128)).save(buffer, "PNG")
    try:
        signed = sign(identity, buffer.getvalue(), "image/png", Origin("check", "check"))
    except SigningFailed as exc:
        raise ValueError(f"the c2pa library refused to sign with it ({exc})") from None
    with (
        _context() as context,
        c2pa.Reader("image/png", io.BytesIO(signed), context=context) as reader,
    ):
        results = reader.get_validation_results() or {}
    failures = results.get("activeManifest", {}).get("failure", [])
    # Not knowing the signer is expected; anything else is the certificate's fault.
    wrong = [f.get("code") for f in failures if f.get("code") != "signingCredential.untrusted"]
    if wrong:
        raise ValueError(f"manifests signed with it do not validate ({', '.join(map(str, wrong))})")
