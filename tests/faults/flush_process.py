"""A real `collector flush` process beside a `collector serve` on one data directory."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import TextIO

# What `collector flush` logs once its signal handlers are in place (collector/runner.py).
_READY = ": flushing; SIGTERM stops after the current batch"


class FlushProcess:
    """Starts, kills (-9) and stops one standalone flusher with a stable consumer name,
    so that each restart first drains what the killed one had read."""

    def __init__(self, data_dir: Path, consumer: str, extra_env: dict[str, str]) -> None:
        self._data_dir = data_dir
        self.consumer = consumer
        self._extra_env = extra_env
        self.log_path = data_dir.parent / f"flush-{consumer}.log"
        self._process: asyncio.subprocess.Process | None = None
        self._ready_before = 0  # "flushing" lines in the log before this start

    async def start(self) -> None:
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("COLLECTOR_", "REDIS_", "DATABASE_URL", "FLUSH_"))
        }
        environment.update(
            COLLECTOR_DATA_DIR=str(self._data_dir),
            FLUSH_CONSUMER=self.consumer,
            **self._extra_env,
        )
        self._ready_before = self.log().count(_READY) if self.log_path.exists() else 0
        with self._open_log() as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "collector.cli",
                "flush",
                env=environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    async def ready(self, timeout_seconds: float = 30.0) -> None:
        """Until the process has its SIGTERM handler: before that, SIGTERM kills it
        like any Python process that is still importing (exit -15)."""
        deadline = asyncio.get_running_loop().time() + timeout_seconds
        while self.log().count(_READY) <= self._ready_before:
            assert self._process is not None
            assert self._process.returncode is None, self.log()
            assert asyncio.get_running_loop().time() < deadline, "the flusher did not start"
            await asyncio.sleep(0.05)

    def _open_log(self) -> TextIO:
        return open(self.log_path, "a")

    async def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or acknowledged on the way out."""
        if self._process is not None:
            if self._process.returncode is None:
                self._process.kill()
            await self._process.wait()
            self._process = None

    async def terminate(self, timeout_seconds: float = 60.0) -> int:
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self._process.wait(), timeout_seconds)
        self._process = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")
