"""Content Credentials in tests: a provider that signs its outputs with a test certificate
made here, and reading a file's manifest back with the c2pa library as any verifier does."""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PROVIDER_ORG = "Test Provider Images Inc"
PROVIDER_SOFTWARE = "test-provider-image-api"
# Expected of any credentials whose CA the verifier was not given.
UNTRUSTED = "signingCredential.untrusted"


def _usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not sign,
        crl_sign=not sign,
        encipher_only=False,
        decipher_only=False,
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, PROVIDER_ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True)
class TestCertificate:
    ca_pem: bytes
    chain_pem: bytes
    key_pem: bytes


def make_certificate(*, ca: bool = False, eku: bool = True, usage: bool = True) -> TestCertificate:
    """A CA and a signing certificate it issued; the flags break the signer's profile."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("test root"))
        .issuer_name(_name("test root"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("test signer"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=29))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if usage:
        builder = builder.add_extension(_usage(sign=True), critical=True)
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
    signer = builder.sign(ca_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    root_pem = root.public_bytes(pem)
    return TestCertificate(
        root_pem,
        signer.public_bytes(pem) + root_pem,
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def provider_signer(cert: TestCertificate) -> Any:
    """What a provider that attaches Content Credentials does to each PNG it returns."""

    def sign(png: bytes) -> bytes:
        definition = {
            "claim_generator_info": [{"name": PROVIDER_SOFTWARE, "version": "1.0"}],
            "title": "image.png",
            "format": "image/png",
            "assertions": [
                {
                    "label": "c2pa.actions",
                    "data": {
                        "actions": [
                            {
                                "action": "c2pa.created",
                                "digitalSourceType": AI_GENERATED,
                                "softwareAgent": {"name": "test-image-model"},
                            }
                        ]
                    },
                }
            ],
        }
        info = c2pa.C2paSignerInfo("es256", cert.chain_pem, cert.key_pem, None)
        out = io.BytesIO()
        context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
        with context, c2pa.Signer.from_info(info) as signer, c2pa.Builder(definition, context) as b:
            b.sign(signer, "image/png", io.BytesIO(png), out)
        return out.getvalue()

    return sign


@dataclass(frozen=True)
class Verified:
    """A file's manifest store as a verifier sees it."""

    state: str
    store: dict[str, Any]
    results: dict[str, Any]

    @property
    def active(self) -> dict[str, Any]:
        return self.store["manifests"][self.store["active_manifest"]]  # type: ignore[no-any-return]

    def codes(self, outcome: str) -> set[str]:
        return {item["code"] for item in self.results["activeManifest"].get(outcome, [])}

    @property
    def actions(self) -> list[dict[str, Any]]:
        found = [a for a in self.active["assertions"] if a["label"].startswith("c2pa.actions")]
        return [action for assertion in found for action in assertion["data"]["actions"]]


def verify(data: bytes, content_type: str, *anchors: bytes) -> Verified:
    """Read and validate the manifest store of `data`, trusting the CAs in `anchors`."""
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if anchors:
        settings["trust"] = {"user_anchors": b"".join(anchors).decode()}
    with (
        c2pa.Context.from_dict(settings) as context,
        c2pa.Reader(content_type, io.BytesIO(data), context=context) as reader,
    ):
        return Verified(
            reader.get_validation_state() or "",
            json.loads(reader.json()),
            reader.get_validation_results() or {},
        )
