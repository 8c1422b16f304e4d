"""The Redis server restarted under load (AOF, appendfsync always), on the same port
and data: the collector reconnects by itself and no acknowledged rating is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from collector.embedded_redis import EmbeddedRedis
from tests.conftest import TEST_SECRET
from tests.faults.backlog import Backlog
from tests.faults.collector_process import readiness, start_serve
from tests.faults.load import RatingLoad
from tests.faults.storage_audit import assert_reconciled
from tests.helpers import eventually

# As fast as the collector takes them (about 5,000 a second here): the server dies
# with pipelines of many ratings in flight.
RATINGS_PER_SECOND = None
# Thank-yous to see before a restart, and after it, to call the collector recovered.
THANKED_BEFORE = 2000
THANKED_AFTER = 2000


def restart(server: EmbeddedRedis, how: str) -> None:
    """SIGTERM: the server finishes its AOF and exits. SIGKILL: nothing is finished,
    only what was fsynced (with appendfsync always, everything acknowledged) is kept."""
    if how == "sigkill":
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
    server.stop()  # SIGTERM, or only reaping the killed process
    server.start()  # same port, same directory: the AOF is loaded before it answers


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
async def test_a_redis_restart_loses_no_acknowledged_rating(
    tmp_path: Path, private_redis: EmbeddedRedis, how: str
) -> None:
    serve = start_serve(tmp_path / "data", REDIS_URL=private_redis.url)
    database = serve.data_dir / "collector.db"
    backlog = Backlog(private_redis.url)
    load = RatingLoad(serve.url, TEST_SECRET, per_second=RATINGS_PER_SECOND)
    loading = asyncio.create_task(load.run())
    try:
        await eventually(load.thanked_since(0.0, THANKED_BEFORE), 30)
        # In a thread: the load goes on while the server is down.
        await asyncio.to_thread(restart, private_redis, how)
        restarted_at = time.monotonic()
        # The same collector process, never restarted, thanks citizens again.
        await eventually(load.thanked_since(restarted_at, THANKED_AFTER), 30)
        assert await readiness(serve.url) == 200
        load.stop()
        outcomes = await loading
        # Its flusher reconnected too: it drains everything.
        await eventually(backlog.drained, 60)
        statuses = outcomes.statuses()
        print(f"restart by {how}: {statuses}")
        # A POST during the gap is refused with the "not saved" page, never an error.
        assert set(statuses) <= {303, 503}, statuses
        assert_reconciled(outcomes, database, load.prefix)
        assert await backlog.dead_letters() == 0
        assert serve.terminate() == 0
    finally:
        load.stop()
        await asyncio.gather(loading, return_exceptions=True)
        await backlog.close()
        serve.kill()
