"""The signing identity: the operator's PEM files are checked at start-up with a clear error;
the embedded default is made once in the data folder (keys 0600) and reused."""

from __future__ import annotations

import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from api.settings import ConfigError, Settings
from api.wiring import load_signing_identity
from resolvers.config.signing import SIGNER_KEY, SigningIdentity
from testbed.content_credentials import PROVIDER_ORG, make_certificate
from testbed.server import MEIMAGES, clean_environment


def _files(tmp_path: Path, chain: bytes, key: bytes) -> dict[str, Path]:
    cert_file, key_file = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert_file.write_bytes(chain)
    key_file.write_bytes(key)
    return {"signing_cert_file": cert_file, "signing_key_file": key_file}


def test_the_default_identity_is_made_once_with_private_keys(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_signing_identity(settings)
    folder = tmp_path / "signing"
    for key in folder.glob("*key*.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert (folder / SIGNER_KEY).exists()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    again = load_signing_identity(settings)
    assert again.chain_pem == first.chain_pem and again.key_pem == first.key_pem
    assert first.private_ca and first.ca_pem == (folder / "ca.pem").read_bytes()
    # `meimages config` tells what such credentials are worth.
    shown = dict(settings.effective())
    assert "untrusted signer" in shown["MEIMAGES_SIGNING_CERT_FILE"]


def test_the_operators_certificate_is_used(tmp_path: Path) -> None:
    cert = make_certificate()
    settings = Settings(data_dir=tmp_path, **_files(tmp_path, cert.chain_pem, cert.key_pem))
    identity = load_signing_identity(settings)
    assert identity.signer == PROVIDER_ORG and not identity.private_ca
    assert not (tmp_path / "signing").exists()
    assert "MEIMAGES_SIGNING_CERT_FILE" in dict(settings.effective())


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ({"ca": True}, "CA certificate"),
        ({"eku": False}, "extended key usage"),
        ({"usage": False}, "digitalSignature"),
    ],
)
def test_a_certificate_c2pa_would_refuse_stops_the_start(
    tmp_path: Path, broken: dict[str, bool], reason: str
) -> None:
    cert = make_certificate(**broken)
    settings = Settings(data_dir=tmp_path, **_files(tmp_path, cert.chain_pem, cert.key_pem))
    with pytest.raises(ConfigError, match=reason) as raised:
        load_signing_identity(settings)
    assert str(raised.value).startswith("MEIMAGES_SIGNING_CERT_FILE/MEIMAGES_SIGNING_KEY_FILE: ")


def test_a_key_of_another_certificate_or_half_a_pair_stops_the_start(tmp_path: Path) -> None:
    one, other = make_certificate(), make_certificate()
    settings = Settings(data_dir=tmp_path, **_files(tmp_path, one.chain_pem, other.key_pem))
    with pytest.raises(ConfigError, match="does not belong"):
        load_signing_identity(settings)
    only_cert = Settings(data_dir=tmp_path, signing_cert_file=tmp_path / "chain.pem")
    with pytest.raises(ConfigError, match="set both"):
        load_signing_identity(only_cert)
    missing = Settings(
        data_dir=tmp_path,
        signing_cert_file=tmp_path / "nowhere.pem",
        signing_key_file=tmp_path / "key.pem",
    )
    with pytest.raises(ConfigError, match="cannot read"):
        load_signing_identity(missing)
    garbage = Settings(data_dir=tmp_path, **_files(tmp_path, b"not a certificate", other.key_pem))
    with pytest.raises(ConfigError, match="no PEM certificate"):
        load_signing_identity(garbage)


def test_a_bare_store_signs_with_an_identity_in_memory() -> None:
    identity = SigningIdentity.ephemeral()
    assert identity.private_ca and identity.algorithm == "es256"


def test_serve_refuses_to_start_with_a_certificate_c2pa_would_refuse(tmp_path: Path) -> None:
    cert = make_certificate(eku=False)
    files = _files(tmp_path, cert.chain_pem, cert.key_pem)
    env = clean_environment(
        {
            "MEIMAGES_DATA_DIR": str(tmp_path / "data"),
            "MEIMAGES_PORT": "0",
            "MEIMAGES_SIGNING_CERT_FILE": str(files["signing_cert_file"]),
            "MEIMAGES_SIGNING_KEY_FILE": str(files["signing_key_file"]),
        }
    )
    done = subprocess.run(
        [str(MEIMAGES), "serve"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        "meimages: invalid configuration: MEIMAGES_SIGNING_CERT_FILE/MEIMAGES_SIGNING_KEY_FILE: "
        "the signing certificate has no extended key usage; C2PA wants emailProtection, "
        "documentSigning or the C2PA claim-signing purpose"
    )
    assert "Traceback" not in done.stderr


def test_instances_starting_together_keep_one_default_identity(tmp_path: Path) -> None:
    """Made in a staging folder and renamed into place: whoever loses the race loads the
    winner's files, never a half-written set."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        identities = list(pool.map(lambda _: SigningIdentity.embedded(tmp_path), range(8)))
    assert len({i.chain_pem for i in identities}) == 1
    assert len({i.key_pem for i in identities}) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["signing"]
