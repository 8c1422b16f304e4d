"""kill -9 of a standalone flusher, 20 times at random moments of a 20,000-rating run:
nothing the collector acknowledged is lost, nothing is stored twice.

The kill moments come from a seed printed with every failure; FAULT_SEED=<seed> replays
the same schedule (the load's timing still varies from run to run).

Run twice: on the embedded server (one stream), and on a three-master Redis Cluster
with three shards, where each killed `collector flush` held entries of every shard.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET
from tests.faults.backlog import Backlog
from tests.faults.collector_process import embedded_redis_url, start_serve
from tests.faults.flush_process import FlushProcess
from tests.faults.load import RatingLoad
from tests.faults.storage_audit import assert_reconciled, stored_ids
from tests.helpers import eventually

RATINGS = 20_000
KILLS = 20
# The collector takes 20,000 POSTs in about 4 s here; at this rate the run lasts about
# as long as 20 start-and-kill cycles of the flusher (about 1.2 s each), so every kill
# falls while ratings arrive.
RATINGS_PER_SECOND = 800
# After the new flusher's first call to Redis: anywhere from its first read to several
# batches later.
LONGEST_LIFE_SECONDS = 1.0
CONSUMER = "fault-flusher"


@dataclass(frozen=True, slots=True)
class Kill:
    after_seconds: float
    held: int  # entries read and not acknowledged when it died
    committed: int  # of those, already committed to storage: the redelivery case


def talking_to_redis(backlog: Backlog, started: float) -> Callable[[], Awaitable[bool]]:
    """A check for `eventually`: the flusher started at `started` has polled Redis."""

    async def check() -> bool:
        idle = await backlog.consumer_idle_milliseconds(CONSUMER)
        return idle is not None and idle < (time.monotonic() - started) * 1000

    return check


async def start_and_kill(
    flusher: FlushProcess, backlog: Backlog, database: Path, chance: random.Random
) -> Kill:
    started = time.monotonic()
    await flusher.start()
    await eventually(talking_to_redis(backlog, started), 30)
    life = chance.uniform(0, LONGEST_LIFE_SECONDS)
    await asyncio.sleep(life)  # the random moment is the point of the test
    await flusher.kill()
    held = await backlog.held_rating_ids(CONSUMER)
    return Kill(life, len(held), stored_ids(database, held))


@pytest.mark.slow
@pytest.mark.parametrize("redis_layout", ["single", "cluster"])
async def test_kill_9_of_the_flusher_loses_and_doubles_nothing(
    tmp_path: Path, redis_layout: str, request: pytest.FixtureRequest
) -> None:
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(2**32))
    chance = random.Random(seed)
    note = f"({redis_layout}, FAULT_SEED={seed})"
    print(f"kill schedule {note}")
    redis_environment: dict[str, str] = {}
    if redis_layout == "cluster":
        cluster_url = str(request.getfixturevalue("redis_cluster_url"))
        redis_environment = {"REDIS_URL": cluster_url, "REDIS_CLUSTER": "on", "REDIS_SHARDS": "3"}
    serve = start_serve(tmp_path / "data", COLLECTOR_FLUSHER="off", **redis_environment)
    database = serve.data_dir / "collector.db"
    flusher = FlushProcess(
        serve.data_dir, CONSUMER, {"COLLECTOR_SECRET": TEST_SECRET, **redis_environment}
    )
    if redis_environment:
        backlog = Backlog(redis_environment["REDIS_URL"], cluster=True, shards=3)
    else:
        backlog = Backlog(embedded_redis_url(serve.data_dir))
    load = RatingLoad(serve.url, TEST_SECRET, per_second=RATINGS_PER_SECOND)
    loading = asyncio.create_task(load.run(RATINGS))
    try:
        kills = [await start_and_kill(flusher, backlog, database, chance) for _ in range(KILLS)]
        outcomes = await loading
        print(f"{len(load.outcomes.results)} POSTs while killing: {kills}")
        await flusher.start()  # the survivor drains what the dead ones left
        await eventually(backlog.drained, 60)
        await flusher.ready()  # drained may be true before it has even started
        assert await flusher.terminate() == 0, flusher.log()[-2000:]
        assert outcomes.statuses() == {303: RATINGS}, note
        assert await backlog.dead_letters() == 0, note
        assert_reconciled(outcomes, database, load.prefix, note)
        # The kills fell inside batches, not only between them; a batch committed but
        # not acknowledged is the case that must not be stored twice.
        assert sum(1 for kill in kills if kill.held) >= KILLS // 4, f"{kills} {note}"
        assert serve.terminate() == 0
    finally:
        load.stop()
        await asyncio.gather(loading, return_exceptions=True)
        await flusher.kill()
        await backlog.close()
        serve.kill()
