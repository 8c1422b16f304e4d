"""The servers a benchmark measures: `collector serve` and the raw ASGI baseline,
each on its own port, with as many worker processes as asked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from collector.embedded_redis import free_port

BENCH_SECRET = "benchmark-secret-0123456789-0123456789-0123456789"  # noqa: S105


class Server:
    def __init__(self, command: list[str], environment: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._command = [part.replace("{port}", str(self.port)) for part in command]
        self._environment = {**os.environ, **environment, "COLLECTOR_PORT": str(self.port)}
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_path: str) -> None:
        with open(self._log, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own arguments)
                self._command, env=self._environment, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + ready_path, timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self._command[:3]} did not start; see {self._log}")
            time.sleep(0.2)

    def pids(self) -> list[int]:
        """The server and its worker processes."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        found = [self.process.pid]
        if children.exists():
            found += [int(pid) for pid in children.read_text().split()]
        return found

    def rss_megabytes(self) -> float:
        """Resident memory of the server and its workers together."""
        total_kilobytes = 0
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kilobytes += int(line.split()[1])
        return total_kilobytes / 1024

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def collector(data_dir: Path, redis_url: str, workers: int, *, flusher: bool) -> Server:
    """`collector serve` (on an external Redis, or its embedded one when redis_url is
    empty); X-Forwarded-For trusted from loopback, so each request can come from its
    own simulated citizen."""
    return Server(
        [sys.executable, "-m", "collector.cli", "serve", "--workers", str(workers)],
        {
            "COLLECTOR_DATA_DIR": str(data_dir),
            "COLLECTOR_SECRET": BENCH_SECRET,
            "REDIS_URL": redis_url,
            "COLLECTOR_FLUSHER": "true" if flusher else "false",
            "COLLECTOR_FORWARDED_ALLOW_IPS": "127.0.0.1",
            "COLLECTOR_LOG_LEVEL": "warning",
            # wrk sends every rating to one service, at full speed, with form tokens
            # signed just before the run: measure the path, not the abuse limits.
            "COLLECTOR_SERVICE_RATE_LIMIT_PER_MINUTE": "100000000",
            "COLLECTOR_MINIMUM_FILL_SECONDS": "0",
        },
        data_dir.parent / f"collector-{workers}.log",
    )


def baseline(page: Path, workers: int, log: Path) -> Server:
    """The raw ASGI app under the same server and options as `collector serve`."""
    return Server(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "loadtests.baseline_app:app",
            "--port",
            "{port}",
            "--workers",
            str(workers),
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        {"BASELINE_PAGE": str(page)},
        log,
    )
