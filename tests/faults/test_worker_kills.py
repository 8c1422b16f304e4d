"""kill -9 of a worker of `collector serve --workers 2` under load: a new one takes
its place, the flusher comes back with the worker that ran it, and every thanked
rating is stored exactly once. A worker that keeps dying stops the collector with a
non-zero exit instead, so that the service manager takes over."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from collector.restart_budget import WORKER_RESTARTS
from tests.conftest import TEST_SECRET
from tests.faults.backlog import Backlog
from tests.faults.collector_process import (
    embedded_redis_url,
    embedded_server_pid,
    process_exists,
    readiness,
    serving_workers,
    start_serve,
)
from tests.faults.load import NO_RESPONSE, RatingLoad
from tests.faults.storage_audit import assert_reconciled
from tests.helpers import eventually

WORKERS = 2
RATINGS_PER_SECOND = 1000
THANKED_BETWEEN = 500
# From the kill to a new worker (a fresh process: imports, storage, Redis) serving.
REPLACED_SECONDS = 30
GIVE_UP_SECONDS = 60


async def test_killed_workers_are_replaced_and_the_flusher_comes_back(tmp_path: Path) -> None:
    serve = start_serve(tmp_path / "data", ("--workers", str(WORKERS)))
    assert serve.process is not None
    master = serve.process.pid
    load = RatingLoad(serve.url, TEST_SECRET, per_second=RATINGS_PER_SECOND)
    loading = asyncio.create_task(load.run())
    backlog = Backlog(embedded_redis_url(serve.data_dir))
    try:
        original = serving_workers(master)
        assert len(original) == WORKERS, original
        moment = 0.0
        # Each of them in turn, so one of the kills hits the worker that runs the flusher.
        for victim in original:
            await eventually(load.thanked_since(moment, THANKED_BETWEEN), 30)
            os.kill(victim, signal.SIGKILL)
            moment = time.monotonic()

            async def replaced(victim: int = victim) -> bool:
                workers = serving_workers(master)
                return len(workers) == WORKERS and victim not in workers

            await eventually(replaced, REPLACED_SECONDS)
        await eventually(load.thanked_since(moment, THANKED_BETWEEN), 30)
        assert not set(serving_workers(master)) & set(original)
        load.stop()
        outcomes = await loading
        # Only the worker in the first slot flushes: the stream drains only if it is back.
        await eventually(backlog.drained, 60)
        statuses = outcomes.statuses()
        print(f"{len(original)} workers killed: {statuses}")
        # A POST on a connection of the killed worker gets no answer (it is retried by
        # the citizen's browser, or not); none gets an error page.
        assert set(statuses) <= {303, 503, NO_RESPONSE}, statuses
        assert_reconciled(outcomes, serve.data_dir / "collector.db", load.prefix)
        assert await backlog.dead_letters() == 0
        assert await readiness(serve.url) == 200
        replacements = serving_workers(master)
        assert serve.terminate() == 0
        assert not any(process_exists(pid) for pid in replacements)
    finally:
        load.stop()
        await asyncio.gather(loading, return_exceptions=True)
        await backlog.close()
        serve.kill()


async def test_a_worker_that_keeps_dying_stops_the_collector(tmp_path: Path) -> None:
    serve = start_serve(tmp_path / "data", ("--workers", str(WORKERS)))
    try:
        assert serve.process is not None
        master = serve.process.pid
        server = embedded_server_pid(master)
        assert server is not None
        survivor, victim = serving_workers(master)
        # One death more than the collector restarts within its window, all in one slot.
        for _ in range(WORKER_RESTARTS.limit):
            os.kill(victim, signal.SIGKILL)

            async def replaced(killed: int = victim) -> bool:
                workers = serving_workers(master)
                return len(workers) == WORKERS and killed not in workers

            await eventually(replaced, REPLACED_SECONDS)
            [victim] = set(serving_workers(master)) - {survivor}
        os.kill(victim, signal.SIGKILL)
        code = await asyncio.to_thread(serve.process.wait, GIVE_UP_SECONDS)
        assert code == 2
        # Said in one line at the end, not in a traceback.
        assert "Traceback" not in serve.log()
        last = serve.log().strip().splitlines()[-1]
        assert last.startswith("collector: worker ")
        assert last.endswith(
            "giving up, the collector stops so that the service manager restarts it"
        )
        # It stopped the rest in order: nothing is left running.
        assert not process_exists(survivor)
        assert not process_exists(server)
    finally:
        serve.kill()
