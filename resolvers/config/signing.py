"""Who signs the Content Credentials of generated images: a certificate chain and its key.

Either the operator's own (PEM files named in the settings, checked here before the
server starts), or the embedded default: a private CA and a signing certificate made on
first start and kept in the data folder (keys 0600). Credentials signed by the default
verify as intact, but from a signer no public trust list knows.

The signing certificate must fit the C2PA certificate profile that every validator
(c2pa-rs and the tools built on it) applies: X.509 v3, not a CA, key usage
digitalSignature (without keyCertSign), an extended key usage C2PA accepts
(emailProtection, documentSigning or the C2PA claim-signing purpose, never anyEKU), an
authority key identifier, and an ECDSA P-256/384/521, Ed25519 or RSA (2048+) key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
C2PA_CLAIM_SIGNING = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
_ACCEPTED_EKUS = {ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING, C2PA_CLAIM_SIGNING}

DEFAULT_FOLDER = "signing"
CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SIGNER_CERT = "signer-chain.pem"
SIGNER_KEY = "signer-key.pem"

_ORGANIZATION = "meimages (self-hosted)"
_DEFAULT_YEARS = 10


class SigningIdentityError(ValueError):
    """The configured certificate or key cannot sign Content Credentials; says why."""


@dataclass(frozen=True)
class SigningIdentity:
    """A certificate chain (signer first, PEM) and its private key (PEM, PKCS#8)."""

    chain_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)
    # The C2PA name of the signature algorithm: es256, es384, es512, ed25519 or ps256.
    algorithm: str
    # Who the credentials name as signer (the certificate's organisation or common name).
    signer: str
    # Where it comes from, for `meimages config` and the logs.
    origin: str
    # The embedded default: a private CA, which no validator trusts unless told to.
    private_ca: bool = False
    # The private CA's certificate (PEM), to give validators as a trust anchor.
    ca_pem: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_pem(
        cls, chain_pem: bytes, key_pem: bytes, *, origin: str, now: dt.datetime | None = None
    ) -> SigningIdentity:
        """Check a chain and key against the C2PA certificate profile."""
        try:
            chain = x509.load_pem_x509_certificates(chain_pem)
        except ValueError:
            raise SigningIdentityError("the certificate file holds no PEM certificate") from None
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError):
            raise SigningIdentityError(
                "the key file holds no unencrypted PEM private key"
            ) from None
        algorithm = _algorithm(key)
        leaf = chain[0]
        if leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise SigningIdentityError(
                "the private key does not belong to the first certificate of the chain"
            )
        _check_profile(leaf, now or dt.datetime.now(dt.UTC))
        normal = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        pems = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
        return cls(pems, normal, algorithm, _display_name(leaf), origin)

    @classmethod
    def load(cls, cert_file: Path, key_file: Path) -> SigningIdentity:
        """The operator's chain and key, from PEM files."""
        try:
            chain_pem, key_pem = cert_file.read_bytes(), key_file.read_bytes()
        except OSError as exc:
            raise SigningIdentityError(f"cannot read {exc.filename}: {exc.strerror}") from None
        return cls.from_pem(chain_pem, key_pem, origin=f"certificate {cert_file}")

    @classmethod
    def embedded(cls, data_dir: Path) -> SigningIdentity:
        """The default identity in `<data_dir>/signing`, made on first use."""
        folder = data_dir / DEFAULT_FOLDER
        if not (folder / SIGNER_CERT).exists():
            _create_default(folder)
        identity = cls.load(folder / SIGNER_CERT, folder / SIGNER_KEY)
        return _as_private(identity, (folder / CA_CERT).read_bytes(), f"private CA in {folder}")

    @classmethod
    def ephemeral(cls) -> SigningIdentity:
        """A private CA and signer kept in memory only (tools and tests without a data folder)."""
        ca_pem, _ca_key, chain_pem, key_pem = _make_default()
        identity = cls.from_pem(chain_pem, key_pem, origin="in-memory private CA")
        return _as_private(identity, ca_pem, "in-memory private CA")


def _as_private(identity: SigningIdentity, ca_pem: bytes, origin: str) -> SigningIdentity:
    return SigningIdentity(
        identity.chain_pem,
        identity.key_pem,
        identity.algorithm,
        identity.signer,
        origin,
        private_ca=True,
        ca_pem=ca_pem,
    )


def _algorithm(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curves = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name not in curves:
            raise SigningIdentityError(
                f"the EC key uses {key.curve.name}; C2PA signs with P-256, P-384 or P-521"
            )
        return curves[key.curve.name]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise SigningIdentityError("the RSA key is shorter than 2048 bits")
        return "ps256"
    raise SigningIdentityError("the key type cannot sign C2PA claims (use EC, Ed25519 or RSA)")


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> object | None:
    with contextlib.suppress(x509.ExtensionNotFound):
        return cert.extensions.get_extension_for_class(kind).value
    return None


def _check_profile(cert: x509.Certificate, now: dt.datetime) -> None:
    """The C2PA profile of a signing certificate, with a reason a person can act on."""
    if cert.version is not x509.Version.v3:
        raise SigningIdentityError("the signing certificate is not an X.509 v3 certificate")
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise SigningIdentityError(
            "the signing certificate is not valid now (valid "
            f"{cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d})"
        )
    constraints = _extension(cert, x509.BasicConstraints)
    if isinstance(constraints, x509.BasicConstraints) and constraints.ca:
        raise SigningIdentityError(
            "the signing certificate is a CA certificate; C2PA wants an end-entity certificate"
        )
    if cert.issuer == cert.subject:
        raise SigningIdentityError(
            "the signing certificate is self-signed; C2PA wants one issued by a CA"
        )
    usage = _extension(cert, x509.KeyUsage)
    if not isinstance(usage, x509.KeyUsage) or not usage.digital_signature:
        raise SigningIdentityError("the signing certificate lacks the digitalSignature key usage")
    if usage.key_cert_sign:
        raise SigningIdentityError("the signing certificate may sign certificates (keyCertSign)")
    purposes = _extension(cert, x509.ExtendedKeyUsage)
    if not isinstance(purposes, x509.ExtendedKeyUsage):
        raise SigningIdentityError(
            "the signing certificate has no extended key usage; C2PA wants emailProtection, "
            "documentSigning or the C2PA claim-signing purpose"
        )
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in purposes:
        raise SigningIdentityError("the signing certificate may not carry anyExtendedKeyUsage")
    if not _ACCEPTED_EKUS.intersection(purposes):
        raise SigningIdentityError(
            "the signing certificate's extended key usage has none of emailProtection, "
            "documentSigning or the C2PA claim-signing purpose"
        )
    if _extension(cert, x509.AuthorityKeyIdentifier) is None:
        raise SigningIdentityError("the signing certificate has no authority key identifier")


def _display_name(cert: x509.Certificate) -> str:
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        values = cert.subject.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    return cert.subject.rfc4514_string()


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _make_default() -> tuple[bytes, bytes, bytes, bytes]:
    """A private CA and a C2PA signing certificate it issued: (CA cert, CA key, signer
    chain, signer key), all PEM."""
    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(hours=1), now + dt.timedelta(days=365 * _DEFAULT_YEARS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("meimages private CA"))
        .issuer_name(_name("meimages private CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        x509.CertificateBuilder()
        .subject_name(_name("meimages content credentials"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end - dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    chain = signer.public_bytes(serialization.Encoding.PEM) + ca_pem
    return ca_pem, _pem_key(ca_key), chain, _pem_key(key)


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _create_default(folder: Path) -> None:
    """Write the default identity into `folder` at once: built in a sibling folder and
    renamed into place, so two instances starting together keep one of them, whole."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".signing-", dir=folder.parent))
    try:
        ca_pem, ca_key, chain, key = _make_default()
        _write(staging / CA_CERT, ca_pem, 0o644)
        _write(staging / CA_KEY, ca_key, 0o600)
        _write(staging / SIGNER_CERT, chain, 0o644)
        _write(staging / SIGNER_KEY, key, 0o600)
        os.chmod(staging, 0o700)
        with contextlib.suppress(FileExistsError, OSError):
            os.rename(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
