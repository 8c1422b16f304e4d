"""`collector flush` as its own process beside `collector serve`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from collector import keys
from collector.redis_clients import reply_text
from collector.runner import EMBEDDED_URL_FILE, flush_consumer_names
from tests.e2e.conftest import ServeProcess
from tests.e2e.test_serve import rate, summary_count, wait_for_count


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_standalone_flusher_drains_what_serve_buffered(
    tmp_path: Path, concurrency: int
) -> None:
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
                "--concurrency",
                str(concurrency),
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await wait_for_count(http, serve.analyst_token, 3)
            url = (serve.data_dir / EMBEDDED_URL_FILE).read_text(encoding="ascii").strip()
            redis = Redis.from_url(url)
            try:
                consumers = await redis.xinfo_consumers(keys.STREAM, keys.FLUSHER_GROUP)
            finally:
                await redis.aclose()
            names = {reply_text(consumer["name"]) for consumer in consumers}
            expected = flush_consumer_names("standalone-1", concurrency)
            assert names >= set(expected)
            assert len(expected) == concurrency
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
