"""The flusher when its Redis server dies between storing a batch and acknowledging it
(as the embedded server may, restarted by `collector serve`): once the server is back
with its AOF, the flusher takes up its own pending batch at once, not only when the
claim of abandoned entries comes round a minute later."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from collector import keys
from collector.embedded_redis import EmbeddedRedis
from collector.flusher import Flusher
from collector.messages import EVENT_ENCODER
from collector.redis_clients import flusher_client
from collector.storage.sqlite import SqliteStorage
from tests.helpers import event, eventually

# The flusher's default: an entry left pending is claimed after a minute of idleness.
CLAIM_IDLE_MILLISECONDS = 60_000
# Well under that claim: only the flusher's own pending read can drain it in time.
BACK_WITHIN_SECONDS = 10


async def test_a_batch_whose_acknowledgement_failed_is_flushed_once_redis_is_back(
    tmp_path: Path, private_redis: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="collector.flusher")
    database = tmp_path / "ratings.db"
    storage = SqliteStorage(database, busy_timeout_milliseconds=50)
    await storage.migrate()
    watcher = flusher_client(private_redis.url, 50)
    flusher = Flusher(
        flusher_client(private_redis.url, 50),
        storage,
        consumer="restarted",
        block_milliseconds=50,
        claim_idle_milliseconds=CLAIM_IDLE_MILLISECONDS,
    )
    blocker = sqlite3.connect(database, isolation_level=None)
    task: asyncio.Task[None] | None = None

    async def pending_is(expected: int) -> bool:
        summary = await watcher.xpending(keys.stream(0), keys.FLUSHER_GROUP)
        return int(summary["pending"]) == expected

    async def acknowledgement_failed() -> bool:
        return "flusher: Redis error" in caplog.text

    try:
        await flusher.ensure_group()
        for stars in (5, 4):
            await watcher.xadd(keys.stream(0), {"e": EVENT_ENCODER.encode(event(stars))})
        blocker.execute("BEGIN EXCLUSIVE")  # the flusher reads the batch, cannot store it
        task = asyncio.create_task(flusher.run())
        await eventually(lambda: pending_is(2))
        assert private_redis.pid is not None
        os.kill(private_redis.pid, signal.SIGKILL)
        await asyncio.to_thread(private_redis.stop)  # reaps it
        blocker.execute("ROLLBACK")  # stored now; its acknowledgement finds no server
        await eventually(acknowledgement_failed)
        await asyncio.to_thread(private_redis.start)  # same port, the AOF keeps it pending
        await eventually(lambda: pending_is(0), BACK_WITHIN_SECONDS)
        assert await storage.count_ratings() == 2  # stored once: the second time duplicates
    finally:
        flusher.stop()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await flusher.close()
        await watcher.aclose()
        await storage.close()
        blocker.close()
