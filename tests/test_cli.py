"""The `meimages` command line: tokens, schema export, master-key rotation with a server running,
and what it does with bad arguments or a folder that holds no meimages data."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import jwt
import pytest

from api.settings import Settings
from testbed.graphql import bearer, data_of, operation, upload_form, upload_result
from testbed.images import jpeg
from testbed.server import MEIMAGES, LiveServer, clean_environment, start_server

LABEL_QUERY = "query($id: ID!) { meImage(id: $id) { label tags } }"


def run(*args: str, data_dir: Path) -> str:
    return subprocess.run(
        [str(MEIMAGES), *args, "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def meimages(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real entry point, in `cwd`, with no MEIMAGES_* settings but `env`."""
    clean = clean_environment()
    return subprocess.run(
        [str(MEIMAGES), *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def refused(done: subprocess.CompletedProcess[str], prog: str) -> str:
    """An argparse-style refusal: exit 2, `meimages …: error: …` on stderr, no traceback."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert re.search(rf"^{re.escape(prog)}: error: ", done.stderr, re.MULTILINE), done.stderr
    return done.stderr


def test_token_reads_the_data_dir_secret(tmp_path: Path) -> None:
    Settings(data_dir=tmp_path).with_local_secrets()  # what the server writes on its first start
    token = run(
        "token", "--user", "cli-user", "--space", "club", "--ttl", "30m", data_dir=tmp_path
    ).strip()
    secret = json.loads((tmp_path / "secrets.json").read_text())["jwt_secret"]
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert claims["sub"] == "cli-user" and claims["space"] == "club"
    assert 1790 <= claims["exp"] - claims["iat"] <= 1800


@pytest.mark.parametrize(
    ("ttl", "seconds"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("7d", 604800), ("3600", 3600)],
)
def test_token_ttl_accepts_positive_durations(tmp_path: Path, ttl: str, seconds: int) -> None:
    Settings(data_dir=tmp_path).with_local_secrets()
    done = meimages(
        "token", "--user", "me", "--ttl", ttl, "--data-dir", str(tmp_path), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    secret = json.loads((tmp_path / "secrets.json").read_text())["jwt_secret"]
    claims = jwt.decode(done.stdout.strip(), secret, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == seconds


@pytest.mark.parametrize("ttl", ["5x", "0", "0.1s", "-1h", "", "99999d"])
def test_token_ttl_refuses_what_is_not_a_positive_duration(tmp_path: Path, ttl: str) -> None:
    Settings(data_dir=tmp_path).with_local_secrets()
    done = meimages(
        "token", "--user", "me", f"--ttl={ttl}", "--data-dir", str(tmp_path), cwd=tmp_path
    )
    stderr = refused(done, "meimages token")
    assert "argument --ttl" in stderr and ("30s, 15m, 2h, 7d" in stderr or "3650d" in stderr)


def test_token_refuses_a_folder_without_server_secrets(tmp_path: Path) -> None:
    """Run from some other folder, it must not invent a secret the server does not know."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stderr = refused(meimages("token", "--user", "me", cwd=elsewhere), "meimages token")
    assert str(elsewhere / "data") in stderr
    assert "--data-dir" in stderr and "MEIMAGES_DATA_DIR" in stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    done = meimages("token", "--user", "me", "--data-dir", str(empty), cwd=elsewhere)
    assert str(empty) in refused(done, "meimages token")
    done = meimages("token", "--user", "me", cwd=elsewhere, env={"MEIMAGES_DATA_DIR": str(empty)})
    refused(done, "meimages token")
    assert tree(tmp_path) == ["elsewhere", "empty"]  # nothing created anywhere


def test_token_from_an_env_secret_needs_no_data_dir(tmp_path: Path) -> None:
    done = meimages("token", "--user", "me", cwd=tmp_path, env={"MEIMAGES_JWT_SECRET": "s" * 40})
    assert done.returncode == 0, done.stderr
    assert jwt.decode(done.stdout.strip(), "s" * 40, algorithms=["HS256"])["sub"] == "me"
    assert tree(tmp_path) == []


def test_the_printed_token_command_works_from_anywhere(tmp_path: Path) -> None:
    """`serve` prints a `meimages token` line naming its data folder; run as printed, from
    another folder, it mints a token that server accepts."""
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(data)
    try:
        log = next(data.glob("server-*.log")).read_text()
        line = next(line for line in log.splitlines() if line.startswith("More tokens: "))
        command = line.removeprefix("More tokens: ").split()
        assert command[0] == str(MEIMAGES)
        assert command[-2:] == ["--data-dir", str(data.resolve())]
        args = [a for a in command[1:] if a not in ("[--space", "ID]")]
        args[args.index("ID")] = "me"
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        done = meimages(*args, cwd=elsewhere)
        assert done.returncode == 0, done.stderr
        response = httpx.post(
            f"{server.url}/graphql",
            json={"query": "{ meImages { id } }"},
            headers={"Authorization": f"Bearer {done.stdout.strip()}"},
        )
        assert response.json() == {"data": {"meImages": []}}
        assert tree(elsewhere) == []
    finally:
        server.stop()


@pytest.mark.parametrize(
    "args",
    [
        ("credits", "show", "--user", "me"),
        ("credits", "grant", "--user", "me", "5"),
        ("gc", "--grace", "0", "--sweep"),
        ("purge", "--deleted"),
        ("purge", "--user", "me"),
        ("rotate-master-key",),
    ],
)
def test_commands_on_existing_data_refuse_an_empty_folder(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    prog = "meimages " + " ".join(args[:2] if args[0] == "credits" else args[:1])
    stderr = refused(meimages(*args, cwd=tmp_path), prog)
    assert f"no meimages database at {tmp_path / 'data' / 'meimages.db'}" in stderr
    assert "--data-dir" in stderr and "MEIMAGES_DATA_DIR" in stderr
    missing = tmp_path / "missing"
    stderr = refused(meimages(*args, "--data-dir", str(missing), cwd=tmp_path), prog)
    assert str(missing) in stderr
    assert tree(tmp_path) == []


def test_key_commands_refuse_a_database_without_its_keys(tmp_path: Path) -> None:
    """A database reached by URL, but this folder has none of its master keys: rotating or
    purging here would write a fresh key file next to data it cannot open."""
    db = tmp_path / "elsewhere.db"
    db.write_bytes(b"")
    env = {"MEIMAGES_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    for args in (("rotate-master-key",), ("purge", "--user", "me"), ("gc",)):
        stderr = refused(meimages(*args, cwd=tmp_path, env=env), f"meimages {args[0]}")
        assert f"no master keys at {tmp_path / 'data' / 'master-keys.json'}" in stderr
    assert tree(tmp_path) == ["elsewhere.db"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("gc", "--grace", "5x"), "argument --grace: '5x' is not a duration"),
        (("purge", "--deleted", "--older-than", "soon"), "argument --older-than"),
        (("serve", "--port", "0"), "argument --port: '0' is not a port"),
        (("serve", "--port", "70000"), "argument --port"),
        (("serve", "--port", "http"), "argument --port"),
        (("credits", "grant", "--user", "me", "lots"), "argument amount"),
    ],
)
def test_bad_arguments_get_an_argparse_error(
    tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    prog = "meimages " + " ".join(args[:2] if args[0] == "credits" else args[:1])
    assert needle in refused(meimages(*args, cwd=tmp_path), prog)
    assert tree(tmp_path) == []


def test_data_dir_must_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for args in (("serve",), ("migrate",), ("token", "--user", "me")):
        done = meimages(*args, "--data-dir", str(tmp_path / "file"), cwd=tmp_path)
        assert "is not a folder" in refused(done, f"meimages {args[0]}")


def test_export_schema_to_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    done = meimages("export-schema", "-o", str(tmp_path / "no" / "schema.graphql"), cwd=tmp_path)
    assert "cannot write" in refused(done, "meimages export-schema")


def test_export_schema_prints_sdl() -> None:
    out = subprocess.run(
        [str(MEIMAGES), "export-schema"], check=True, capture_output=True, text=True
    ).stdout
    assert "type MeImage" in out and "setPrimary(" in out


def upload(server: LiveServer, user: str, label: str, seed: int) -> str:
    form = upload_form(jpeg(seed), input={"label": label, "tags": [label + "-tag"]})
    headers = bearer(server.token(user), preflight=True)
    return str(upload_result(httpx.post(server.graphql_url, headers=headers, **form))["id"])


def label_of(server: LiveServer, user: str, image_id: str) -> str:
    response = httpx.post(
        server.graphql_url,
        json=operation(LABEL_QUERY, {"id": image_id}),
        headers=bearer(server.token(user)),
    )
    return str(data_of(response)["meImage"]["label"])


def test_rotate_master_key_without_downtime(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        first = upload(server, "rot-alice", "before", 1)
        old_keys = json.loads((tmp_path / "master-keys.json").read_text())["keys"]
        out = run("rotate-master-key", data_dir=tmp_path)
        assert "re-wrapped 1 data keys" in out
        rotated = json.loads((tmp_path / "master-keys.json").read_text())["keys"]
        assert len(rotated) == 2 and rotated[1:] == old_keys  # the old key stays for now
        out = run("rotate-master-key", "--retire", data_dir=tmp_path)
        assert "1 old master key(s) removed" in out
        new_keys = json.loads((tmp_path / "master-keys.json").read_text())["keys"]
        assert new_keys == rotated[:1]
        assert (tmp_path / "master-keys.json").stat().st_mode & 0o777 == 0o600
        # The running server keeps serving old data and writes new data under the new key.
        assert label_of(server, "rot-alice", first) == "before"
        second = upload(server, "rot-bob", "after", 2)
        assert label_of(server, "rot-bob", second) == "after"
    finally:
        server.stop()
    # A fresh process that only has the new key reads everything.
    server = start_server(tmp_path)
    try:
        assert label_of(server, "rot-alice", first) == "before"
        assert label_of(server, "rot-bob", second) == "after"
    finally:
        server.stop()
