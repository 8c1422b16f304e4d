"""Storage unavailable for 60 s under load (SQLite locked by another connection): the
citizens are still thanked, the backlog grows in Redis, then drains; nothing is lost."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET
from tests.faults.backlog import Backlog
from tests.faults.collector_process import embedded_redis_url, start_serve
from tests.faults.load import RatingLoad
from tests.faults.storage_audit import assert_reconciled, rows_and_rolled_up
from tests.helpers import eventually

OUTAGE_SECONDS = 60.0  # what the issue asks for; CI runs it in full
RATINGS_PER_SECOND = 200
THANKED_BEFORE = 200
FLUSH_BATCH_SIZE = 1000  # the default, so at most this many are held during the outage


@pytest.mark.slow
async def test_storage_unavailable_for_60_seconds(tmp_path: Path) -> None:
    serve = start_serve(tmp_path / "data", FLUSH_BATCH_SIZE=str(FLUSH_BATCH_SIZE))
    database = serve.data_dir / "collector.db"
    backlog = Backlog(embedded_redis_url(serve.data_dir))
    load = RatingLoad(serve.url, TEST_SECRET, per_second=RATINGS_PER_SECOND)
    loading = asyncio.create_task(load.run())
    blocker = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        await eventually(load.thanked_since(0.0, THANKED_BEFORE), 30)
        # The write lock, held as a stuck migration or backup would hold it.
        blocker.execute("BEGIN EXCLUSIVE")
        locked_at = time.monotonic()
        rows_before, _ = rows_and_rolled_up(database)
        waiting_before = await backlog.lag() + await backlog.pending()
        # The outage's length is the scenario, not a condition to poll for.
        await asyncio.sleep(locked_at + OUTAGE_SECONDS - time.monotonic())
        thanked_during = load.outcomes.thanked_after(locked_at)
        waiting = await backlog.lag() + await backlog.pending()
        assert rows_and_rolled_up(database)[0] == rows_before  # nothing got through
        assert waiting >= thanked_during > waiting_before  # every one of them waits in Redis
        assert await backlog.pending() <= FLUSH_BATCH_SIZE  # one batch held, the rest unread
        blocker.execute("ROLLBACK")
        released_at = time.monotonic()
        await eventually(backlog.drained, 60)
        drained_after = time.monotonic() - released_at
        load.stop()
        outcomes = await loading
        await eventually(backlog.drained, 60)
        print(
            f"storage locked {OUTAGE_SECONDS} s: {outcomes.statuses()}; backlog "
            f"{waiting_before} -> {waiting}; drained {drained_after:.1f} s after the release"
        )
        # Storage is no part of the hot path: every citizen was thanked.
        assert outcomes.statuses() == {303: len(outcomes.results)}
        assert_reconciled(outcomes, database, load.prefix)
        assert await backlog.dead_letters() == 0
        assert serve.terminate() == 0
    finally:
        blocker.close()
        load.stop()
        await asyncio.gather(loading, return_exceptions=True)
        await backlog.close()
        serve.kill()
