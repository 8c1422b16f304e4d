"""The flusher against real Redis and SQLite: nothing lost, nothing doubled. On one
stream, and on shard 0 of three on one server and on a Redis Cluster; the last test
flushes every shard."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from collector import keys
from collector.batch_writer import to_stored
from collector.buffer import Outcome
from collector.flusher import Flusher
from collector.messages import EVENT_DECODER
from collector.runtime import Runtime
from collector.storage.sqlite import sqlite_path
from tests.conftest import REDIS_LAYOUTS, make_flusher
from tests.helpers import add, buffered, dead_letters, event, pending, stream_entries


@pytest.fixture(params=REDIS_LAYOUTS)
def redis_layout(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_a_batch_is_stored_classified_and_acknowledged(
    runtime: Runtime, flusher: Flusher
) -> None:
    android = (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36"
    )
    await add(runtime, event(5, user_agent=android), event(2, comment="queue"), event(4))
    assert await flusher.run_once(block=False) == 3
    assert await runtime.storage.count_ratings() == 3
    assert await pending(runtime) == 0
    assert (await runtime.storage.summary("demo-passport", None, None)).stars == (0, 1, 0, 1, 1)
    with sqlite3.connect(sqlite_path(runtime.settings.effective_database_url)) as connection:
        rows = connection.execute(
            "SELECT device_class, os_family, browser_family, is_bot FROM ratings WHERE rating = 5"
        ).fetchall()
    assert rows == [("mobile", "Android", "Chrome Mobile", 0)]


async def test_crash_between_commit_and_ack_is_not_a_duplicate(
    runtime: Runtime, flusher: Flusher
) -> None:
    await add(runtime, event(1), event(5))
    # Consumer A reads and commits the batch, then dies before XACK.
    crashed = make_flusher(runtime, "crashed")
    batch = await crashed.read_new(block=False)
    await runtime.storage.store([to_stored(EVENT_DECODER.decode(f[b"e"])) for _, f in batch])
    await crashed.close()
    assert await pending(runtime) == 2

    # Another consumer claims the idle entries: stored again, counted once.
    survivor = make_flusher(runtime, "survivor", claim_idle_milliseconds=0)
    assert await survivor.claim_abandoned() == 2
    await survivor.close()
    assert await runtime.storage.count_ratings() == 2
    assert (await runtime.storage.summary("demo-passport", None, None)).count == 2
    assert await pending(runtime) == 0


async def test_restarted_consumer_drains_its_own_pending_first(runtime: Runtime) -> None:
    first = make_flusher(runtime, "worker-1")
    await first.ensure_group()
    await add(runtime, event(3), event(4), event(5))
    assert len(await first.read_new(block=False)) == 3  # read, then "crash"
    await first.close()

    restarted = make_flusher(runtime, "worker-1", batch_size=2)
    assert await restarted.drain_own_pending() == 3
    await restarted.close()
    assert await runtime.storage.count_ratings() == 3
    assert await pending(runtime) == 0


async def test_undecodable_entry_goes_to_dead_letters(runtime: Runtime, flusher: Flusher) -> None:
    await runtime.redis.xadd(keys.STREAM, {"e": b'{"id": "x", "rating": 9}'})
    await add(runtime, event(4))
    assert await flusher.run_once(block=False) == 2
    assert await runtime.storage.count_ratings() == 1
    letters = await dead_letters(runtime)
    assert len(letters) == 1
    assert letters[0][b"reason"].startswith(b"undecodable entry:")
    assert letters[0][b"e"] == b'{"id": "x", "rating": 9}'
    assert await pending(runtime) == 0


async def test_often_delivered_entries_are_stored_alone_and_kept_if_good(
    runtime: Runtime,
) -> None:
    path = sqlite_path(runtime.settings.effective_database_url)
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON ratings WHEN NEW.comment = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
        )
    setup = make_flusher(runtime, "setup")
    await setup.ensure_group()
    await setup.close()
    await add(runtime, event(4), event(2, comment="poison"))
    # A consumer that reads both entries twice and never acknowledges them; the
    # claim below is their third delivery.
    await runtime.redis.xreadgroup(keys.FLUSHER_GROUP, "flaky", {keys.STREAM: ">"})
    await runtime.redis.xreadgroup(keys.FLUSHER_GROUP, "flaky", {keys.STREAM: "0"})
    claimer = make_flusher(runtime, "claimer", max_deliveries=2, claim_idle_milliseconds=0)
    assert await claimer.claim_abandoned() == 2
    await claimer.close()
    # Redelivery alone is no fault (outages and restarts cause it): the good one is kept.
    assert await runtime.storage.count_ratings() == 1
    letters = await dead_letters(runtime)
    assert len(letters) == 1
    assert b"refused by trigger" in letters[0][b"reason"]
    assert await pending(runtime) == 0


async def test_row_the_database_refuses_is_isolated(runtime: Runtime, flusher: Flusher) -> None:
    path = sqlite_path(runtime.settings.effective_database_url)
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON ratings WHEN NEW.comment = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
        )
    await add(runtime, event(5), event(1, comment="poison"), event(3))
    assert await flusher.run_once(block=False) == 3
    assert await runtime.storage.count_ratings() == 2
    letters = await dead_letters(runtime)
    assert len(letters) == 1
    assert b"refused by trigger" in letters[0][b"reason"]
    assert await pending(runtime) == 0


async def test_trim_keeps_every_unacknowledged_entry(runtime: Runtime, flusher: Flusher) -> None:
    await add(runtime, *(event(4) for _ in range(300)))
    assert await flusher.run_once(block=False) == 300
    # 50 more read by a consumer that has not acknowledged them yet, 10 never read.
    await add(runtime, *(event(3) for _ in range(50)))
    await runtime.redis.xreadgroup(keys.FLUSHER_GROUP, "busy", {keys.STREAM: ">"}, count=50)
    await add(runtime, *(event(2) for _ in range(10)))
    await flusher.housekeeping.trim()
    remaining = await stream_entries(runtime.redis, keys.STREAM)
    assert len(remaining) >= 60
    assert len(remaining) < 360  # acknowledged entries were dropped
    unflushed = [fields for _, fields in remaining if b'"rating":4' not in fields[b"e"]]
    assert len(unflushed) == 60


async def test_an_idle_flusher_outlives_the_client_default_timeout(
    runtime: Runtime,
) -> None:
    # redis-py 8 defaults to a 5 s socket timeout; our flusher blocks for 6 s here.
    idle = make_flusher(runtime, "idle", block_milliseconds=6000)
    await idle.ensure_group()
    started = time.monotonic()
    assert await idle.run_once() == 0
    assert time.monotonic() - started >= 5.5
    await idle.close()


@pytest.mark.parametrize("consumers", [2, 3])
async def test_several_flushers_share_the_stream_without_duplicates(
    runtime: Runtime, consumers: int
) -> None:
    await add(runtime, *(event(n % 5 + 1) for n in range(500)))
    flushers = [make_flusher(runtime, f"w{n}", batch_size=37) for n in range(consumers)]
    await flushers[0].ensure_group()

    async def work(flusher: Flusher) -> None:
        while await flusher.run_once(block=False):
            pass

    await asyncio.gather(*(work(flusher) for flusher in flushers))
    for flusher in flushers:
        await flusher.close()
    assert await runtime.storage.count_ratings() == 500
    assert (await runtime.storage.summary("demo-passport", None, None)).count == 500
    assert await pending(runtime) == 0


async def test_consumers_gone_for_a_day_are_forgotten(runtime: Runtime, flusher: Flusher) -> None:
    await add(runtime, event(4))
    await runtime.redis.xreadgroup(keys.FLUSHER_GROUP, "holds-one", {keys.STREAM: ">"})
    await runtime.redis.xreadgroup(keys.FLUSHER_GROUP, "gone", {keys.STREAM: ">"})
    await flusher.read_new(block=False)  # registers the flusher itself
    assert await flusher.housekeeping.forget_idle_consumers(idle_milliseconds=3_600_000) == 0
    await asyncio.sleep(0.02)
    # With a 10 ms threshold: "gone" (nothing pending) goes; the one holding an entry
    # and the flusher itself stay.
    assert await flusher.housekeeping.forget_idle_consumers(idle_milliseconds=10) == 1
    names = {
        consumer["name"]
        for consumer in await runtime.redis.xinfo_consumers(keys.STREAM, keys.FLUSHER_GROUP)
    }
    assert names == {b"holds-one", flusher.consumer.encode()}


async def test_flushers_of_every_shard_store_every_rating(runtime: Runtime) -> None:
    shards = runtime.settings.redis_shards
    # One client: past its rate limit, as a spool replay is.
    results = [
        await runtime.buffer.submit(event(n % 5 + 1), f"nonce-{n}", rate_limited=False)
        for n in range(90)
    ]
    assert {result.outcome for result in results} == {Outcome.ACCEPTED}, results[-1]
    assert {result.shard for result in results} == set(range(shards))
    flushers = [make_flusher(runtime, "everywhere", shard=shard) for shard in range(shards)]
    for flusher in flushers:
        await flusher.ensure_group()
        while await flusher.run_once(block=False):
            pass
        await flusher.close()
    assert await runtime.storage.count_ratings() == 90
    for shard in range(shards):
        summary = await runtime.redis.xpending(keys.stream(shard), keys.FLUSHER_GROUP)
        assert summary["pending"] == 0
    assert sum(flusher.statistics.stored for flusher in flushers) == 90
    assert await buffered(runtime) == 0  # each shard trimmed by its own flusher
