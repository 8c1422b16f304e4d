"""`collector flush` as its own process beside `collector serve`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.conftest import ServeProcess
from tests.e2e.test_serve import rate, summary_count, wait_for_count


async def test_standalone_flusher_drains_what_serve_buffered(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data", {"COLLECTOR_FLUSHER": "off"})
    serve.start()
    flusher: asyncio.subprocess.Process | None = None
    try:
        async with httpx.AsyncClient(base_url=serve.url) as http:
            for stars in (5, 4, 3):
                assert (await rate(http, stars)).status_code == 303
            assert await summary_count(http, serve.analyst_token) == 0  # buffered only

            environment = {
                **{k: v for k, v in os.environ.items() if not k.startswith("COLLECTOR_")},
                "COLLECTOR_DATA_DIR": str(serve.data_dir),
                "FLUSH_CONSUMER": "standalone-1",
            }
            flusher = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "collector.cli",
                "flush",
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await wait_for_count(http, serve.analyst_token, 3)
            flusher.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(flusher.wait(), 30) == 0
    finally:
        if flusher is not None and flusher.returncode is None:
            flusher.kill()
            await flusher.wait()
        serve.kill()


def test_flush_without_redis_explains_what_to_do(tmp_path: Path) -> None:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("COLLECTOR_", "REDIS_"))},
        "COLLECTOR_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "collector.cli", "flush"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "set REDIS_URL, or start `collector serve`" in result.stderr
