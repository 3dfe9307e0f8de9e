"""A PostgreSQL server of the test's own (initdb into a temp folder, its own port), which
the test may stop and start at will — never the machine's shared service."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from testbed.server import PORT_ATTEMPTS, free_port

# Safety nets against a hang, never verdicts about speed.
PG_CTL_TIMEOUT_S = 120


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise RuntimeError(f"{name} not found: the database restart test needs PostgreSQL's binaries")


class PrivatePostgres:
    """initdb'd on creation; `start()`/`stop()` as often as the test likes."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="meimages-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self._started = False
        # PostgreSQL refuses to run as root; as root we run it as the `postgres` account.
        self._user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self._user is not None:
            os.chown(self.folder, self._user.pw_uid, self._user.pw_gid)
        self._run(
            _binary("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip

    def _run(self, *args: str) -> None:
        command = list(args)
        if self._user is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PG_CTL_TIMEOUT_S, cwd=self.folder
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{result.stdout}{result.stderr}")

    def start(self) -> None:
        """Start the server. Its port was free when chosen, but another test's server may
        have taken it since (initdb takes a while): before the first start succeeds, a
        port found taken is exchanged for another; afterwards the port is the server's
        address, which its clients reconnect to."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._start()
                self._started = True
                return
            except RuntimeError:
                taken = "Address already in use" in self._log_text()
                if self._started or not taken or attempt == PORT_ATTEMPTS:
                    raise
                self.port = free_port()

    def _start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c max_connections=200"
        )
        self._run(
            _binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", str(PG_CTL_TIMEOUT_S), "start",
        )  # fmt: skip

    def _log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """A fast shutdown: open sessions are cut, as when the database host restarts."""
        self._run(
            _binary("pg_ctl"), "-D", str(self.data), "-m", "fast",
            "-w", "-t", str(PG_CTL_TIMEOUT_S), "stop",
        )  # fmt: skip

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
