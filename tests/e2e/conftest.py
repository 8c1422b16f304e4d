"""A real `collector serve` process, as `make run` starts it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from collector.embedded_redis import free_port
from tests.e2e.browser import launch


class ServeProcess:
    def __init__(
        self,
        data_dir: Path,
        extra_env: dict[str, str] | None = None,
        arguments: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = data_dir
        self._arguments = arguments
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._extra_env = extra_env or {}
        self.process: subprocess.Popen[str] | None = None
        self.banner: dict[str, str] = {}
        self.log_path = data_dir.parent / f"serve-{self.port}.log"

    def start(self, timeout_seconds: float = 60.0) -> None:
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("COLLECTOR_", "REDIS_", "DATABASE_URL", "FLUSH_"))
        }
        environment.update(
            COLLECTOR_DATA_DIR=str(self.data_dir),
            COLLECTOR_PORT=str(self.port),
            # Tests send forms at once; test_widget.py covers the minimum fill time.
            COLLECTOR_MINIMUM_FILL_SECONDS="0",
            **self._extra_env,
        )
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "collector.cli", "serve", *self._arguments],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=environment,
            )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_seconds
        self.banner = {}
        for line in self.process.stdout:
            label, _, value = line.strip().partition(": ")
            self.banner[label] = value
            if line.startswith("Collector listening on"):
                return
            assert time.monotonic() < deadline, "collector did not start in time"
        raise AssertionError(f"collector exited early; see {self.log_path}")

    @property
    def analyst_token(self) -> str:
        for label, value in self.banner.items():
            if label.startswith("Analyst token"):
                return value
        raise AssertionError(f"no analyst token in the banner: {self.banner}")

    def terminate(self, timeout_seconds: float = 60.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout_seconds)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None
        return code

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(tmp_path / "data")
    yield process
    process.kill()


def embedded_server_pid(data_dir: Path) -> int:
    import redis

    url = (data_dir / "redis.url").read_text().strip()
    with redis.Redis.from_url(url) as client:
        return int(client.info("server")["process_id"])


TOKEN_PATTERN = re.compile(r'name="token" value="([^"]+)"')


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium through Playwright, one per test module."""
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()
