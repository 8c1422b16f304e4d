"""kill -9 of the embedded valkey-server while `collector serve` takes ratings: the
collector starts it again on the same port and data, replays what it spooled in the
gap, and is ready again by itself; every thanked rating is stored exactly once. A
server that keeps dying stops the collector with a non-zero exit instead, so that the
service manager takes over."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

from collector.restart_budget import EMBEDDED_SERVER_RESTARTS
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import ServeProcess
from tests.faults.backlog import Backlog
from tests.faults.collector_process import (
    embedded_redis_url,
    embedded_server_pid,
    process_exists,
    readiness,
    serving_workers,
    start_serve,
)
from tests.faults.load import RatingLoad
from tests.faults.storage_audit import assert_reconciled
from tests.helpers import eventually

KILLS = 3
# As fast as the collector takes them: the server dies with pipelines in flight.
RATINGS_PER_SECOND = None
# Thank-yous to see before the first kill, and after each restart.
THANKED_BETWEEN = 1000
# From the kill to a new server answering /health/ready.
READY_AGAIN_SECONDS = 30
REPLAYED = re.compile(r"replayed \S+\.spool: (\d+) ratings")


def master_pid(serve: ServeProcess) -> int:
    assert serve.process is not None
    return serve.process.pid


def kill_embedded_server(serve: ServeProcess) -> int:
    pid = embedded_server_pid(master_pid(serve))
    assert pid is not None, "no embedded valkey-server under the collector"
    os.kill(pid, signal.SIGKILL)
    return pid


async def restarted(serve: ServeProcess, killed: int) -> None:
    """Poll until a new server runs and the collector says it is ready."""

    async def ready_on_a_new_server() -> bool:
        pid = embedded_server_pid(master_pid(serve))
        return pid not in (None, killed) and await readiness(serve.url) == 200

    await eventually(ready_on_a_new_server, READY_AGAIN_SECONDS)


async def test_kill_9_of_the_embedded_server_under_load(tmp_path: Path) -> None:
    serve = start_serve(tmp_path / "data")
    database = serve.data_dir / "collector.db"
    spool = serve.data_dir / "spool"
    load = RatingLoad(serve.url, TEST_SECRET, per_second=RATINGS_PER_SECOND)
    loading = asyncio.create_task(load.run())
    backlog: Backlog | None = None
    try:
        moment = 0.0
        gaps = []
        for _ in range(KILLS):
            await eventually(load.thanked_since(moment, THANKED_BETWEEN), 30)
            killed = kill_embedded_server(serve)
            moment = time.monotonic()
            await restarted(serve, killed)
            gaps.append(round(time.monotonic() - moment, 2))
        await eventually(load.thanked_since(moment, THANKED_BETWEEN), 30)
        load.stop()
        outcomes = await loading

        async def spool_sent() -> bool:
            return not list(spool.glob("*.spool"))

        await eventually(spool_sent, 30)
        backlog = Backlog(embedded_redis_url(serve.data_dir))
        await eventually(backlog.drained, 60)
        statuses = outcomes.statuses()
        replayed = sum(int(count) for count in REPLAYED.findall(serve.log()))
        print(f"{KILLS} kills: {statuses}; ready again after {gaps} s; {replayed} replayed")
        # During a gap a rating is spooled and thanked, or refused with the "not saved"
        # page; never an error, never a dropped connection.
        assert set(statuses) <= {303, 503}, statuses
        assert replayed > 0, "nothing was spooled: the gaps were not seen"
        assert_reconciled(outcomes, database, load.prefix)
        assert await backlog.dead_letters() == 0
        assert not list(spool.glob("*.damaged"))
        assert serve.terminate() == 0
    finally:
        load.stop()
        await asyncio.gather(loading, return_exceptions=True)
        if backlog is not None:
            await backlog.close()
        serve.kill()


# Past this, the collector has given up and stopped its workers.
GIVE_UP_SECONDS = 60


async def test_an_embedded_server_that_keeps_dying_stops_the_collector(tmp_path: Path) -> None:
    serve = start_serve(tmp_path / "data")
    try:
        master = master_pid(serve)
        workers = serving_workers(master)
        started = time.monotonic()
        # One death more than the collector restarts within its window.
        for _ in range(EMBEDDED_SERVER_RESTARTS.limit):
            await restarted(serve, kill_embedded_server(serve))
        kill_embedded_server(serve)
        assert serve.process is not None
        code = await asyncio.to_thread(serve.process.wait, GIVE_UP_SECONDS)
        print(f"gave up {time.monotonic() - started:.1f} s after the first kill, exit {code}")
        assert code != 0
        assert "the embedded valkey-server died" in serve.log()
        assert "giving up" in serve.log()
        assert not any(process_exists(pid) for pid in workers)
        serve.kill()
        # Started again, as a service manager would: it serves from the same data.
        serve.start()
        assert await readiness(serve.url) == 200
        assert serve.terminate() == 0
    finally:
        serve.kill()
