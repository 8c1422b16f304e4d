"""The impression flusher against real Redis and SQLite: every batch stored once, kept
through outages, bad fields skipped."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import date

import pytest

from collector import keys
from collector.embedded_redis import EmbeddedRedis
from collector.ids import new_rating_id
from collector.impression_counter import ImpressionCounter
from collector.impression_flusher import ImpressionFlusher, parse_field
from collector.redis_clients import hot_path_client, reply_text
from collector.runtime import Runtime
from collector.storage import StorageUnavailable
from collector.storage.sqlite import SqliteStorage, sqlite_path
from tests.helpers import eventually
from tests.impressions import NOON_QUARTER, QUARTER, Clock, counting_widget, live_views, viewer

SERVICE = "demo-passport"
FIRST_DAY = date(2026, 1, 1)


@pytest.fixture
def impression_flusher(runtime: Runtime) -> ImpressionFlusher:
    return ImpressionFlusher(runtime.redis, runtime.storage, interval_seconds=0.01)


@pytest.fixture
async def locked(runtime: Runtime) -> AsyncIterator[tuple[SqliteStorage, sqlite3.Connection]]:
    """Storage that gives up after 50 ms, and a connection holding the write lock."""
    path = sqlite_path(runtime.settings.effective_database_url)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    storage = SqliteStorage(path, busy_timeout_milliseconds=50)
    yield storage, blocker
    blocker.close()
    await storage.close()


async def views(runtime: Runtime, day: date | None = None) -> int:
    return (await runtime.storage.summary(SERVICE, day, day)).impressions


async def pending_batches(runtime: Runtime) -> dict[str, dict[str, int]]:
    """Every pending batch id with its fields."""
    batches = {}
    for member in await runtime.redis.smembers(keys.IMPRESSION_BATCHES):
        batch_id = reply_text(member)
        fields = await runtime.redis.hgetall(keys.impression_batch(batch_id))
        batches[batch_id] = {reply_text(name): int(value) for name, value in fields.items()}
    return batches


async def impression_keys(runtime: Runtime) -> list[str]:
    found = await runtime.redis.keys("cf:{ratings}:impressions*")
    return sorted(reply_text(key) for key in found)


async def leave_batch(runtime: Runtime, fields: dict[str, int]) -> str:
    """A pending batch as a flusher that crashed after the rename leaves it."""
    batch_id = new_rating_id()
    await runtime.redis.hset(keys.impression_batch(batch_id), mapping=dict(fields.items()))
    await runtime.redis.sadd(keys.IMPRESSION_BATCHES, batch_id)
    return batch_id


def test_the_keys_share_one_cluster_slot() -> None:
    # RENAME in Redis Cluster needs both keys in one slot: the same hash tag.
    for key in (keys.IMPRESSIONS, keys.IMPRESSION_BATCHES, keys.impression_batch("x")):
        assert "{ratings}" in key
        assert key.index("{") == key.index("{ratings}")


async def test_shown_forms_reach_the_summary_once(
    runtime: Runtime, impression_flusher: ImpressionFlusher
) -> None:
    counter = ImpressionCounter(runtime.redis, clock=Clock())
    for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        async with counting_widget(runtime, counter, address) as client:
            assert (await client.get(f"/w/{SERVICE}")).status_code == 200
    assert await counter.push()

    assert await impression_flusher.run_once() == 3
    assert await views(runtime) == 3
    assert await views(runtime, FIRST_DAY) == 3
    assert await views(runtime, date(2026, 1, 2)) == 0
    assert await impression_keys(runtime) == []

    assert await impression_flusher.run_once() == 0  # nothing new
    assert await views(runtime) == 3


async def test_views_of_several_services_and_quarters_are_all_stored(
    runtime: Runtime, impression_flusher: ImpressionFlusher
) -> None:
    clock = Clock()
    counter = ImpressionCounter(runtime.redis, clock=clock)
    for service in (SERVICE, SERVICE, "other"):
        counter.count(service, viewer())
    clock.seconds += 900
    counter.count(SERVICE, viewer())
    assert await counter.push()
    assert await impression_flusher.run_once() == 4
    assert await views(runtime) == 3
    assert (await runtime.storage.summary("other", None, None)).impressions == 1
    statistics = impression_flusher.statistics
    assert (statistics.batches, statistics.views, statistics.repeated) == (1, 4, 0)


async def test_batches_left_by_a_crash_are_applied_exactly_once(
    runtime: Runtime, impression_flusher: ImpressionFlusher
) -> None:
    # Crashed after storing, before deleting: storage already has this batch id.
    stored = await leave_batch(runtime, {f"{SERVICE}|{NOON_QUARTER}": 4})
    assert await runtime.storage.store_impressions(stored, [(SERVICE, NOON_QUARTER, 4)])
    # Crashed after the rename, before storing.
    await leave_batch(runtime, {f"{SERVICE}|{NOON_QUARTER + QUARTER}": 3})
    await runtime.redis.hset(keys.IMPRESSIONS, f"{SERVICE}|{NOON_QUARTER}", 2)  # new views

    assert await impression_flusher.run_once() == 5  # 3 recovered + 2 new, not the 4 again
    assert await views(runtime) == 9
    assert await impression_keys(runtime) == []
    statistics = impression_flusher.statistics
    assert (statistics.batches, statistics.views, statistics.repeated) == (2, 5, 1)


async def test_storage_outage_keeps_batches_in_redis(
    runtime: Runtime,
    locked: tuple[SqliteStorage, sqlite3.Connection],
) -> None:
    storage, blocker = locked
    flusher = ImpressionFlusher(runtime.redis, storage, interval_seconds=0.01)
    await runtime.redis.hset(keys.IMPRESSIONS, f"{SERVICE}|{NOON_QUARTER}", 2)
    with pytest.raises(StorageUnavailable):
        await flusher.run_once()
    [(batch_id, fields)] = (await pending_batches(runtime)).items()
    assert fields == {f"{SERVICE}|{NOON_QUARTER}": 2}

    # Still down: the pending batch fails first, so new views stay in the live hash
    # instead of piling up as more batches.
    await runtime.redis.hincrby(keys.IMPRESSIONS, f"{SERVICE}|{NOON_QUARTER}", 5)
    with pytest.raises(StorageUnavailable):
        await flusher.run_once()
    assert list(await pending_batches(runtime)) == [batch_id]
    assert await live_views(runtime.redis) == {f"{SERVICE}|{NOON_QUARTER}": 5}

    blocker.execute("ROLLBACK")
    assert await flusher.run_once() == 7
    assert await views(runtime) == 7
    assert await impression_keys(runtime) == []


async def test_run_waits_out_a_storage_outage(
    runtime: Runtime,
    locked: tuple[SqliteStorage, sqlite3.Connection],
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage, blocker = locked
    flusher = ImpressionFlusher(runtime.redis, storage, interval_seconds=0.01)
    await runtime.redis.hset(keys.IMPRESSIONS, f"{SERVICE}|{NOON_QUARTER}", 6)
    task = asyncio.create_task(flusher.run())
    try:

        async def refused() -> bool:
            return any("storage unavailable" in record.message for record in caplog.records)

        await eventually(refused)
        assert len(await pending_batches(runtime)) == 1
        blocker.execute("ROLLBACK")

        async def stored() -> bool:
            return await views(runtime) == 6

        await eventually(stored)
    finally:
        flusher.stop()
        await task
    assert await impression_keys(runtime) == []


async def test_run_waits_out_a_redis_outage(
    runtime: Runtime, private_redis: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    redis = hot_path_client(private_redis.url)
    flusher = ImpressionFlusher(redis, runtime.storage, interval_seconds=0.01)
    await redis.hset(keys.IMPRESSIONS, f"{SERVICE}|{NOON_QUARTER}", 8)
    private_redis.stop()
    task = asyncio.create_task(flusher.run())
    try:

        async def failed() -> bool:
            return any("Redis error" in record.message for record in caplog.records)

        await eventually(failed)
        private_redis.start()  # the AOF brings the views back

        async def stored() -> bool:
            return await views(runtime) == 8

        await eventually(stored)
    finally:
        flusher.stop()
        await task
        await redis.aclose()


async def test_malformed_fields_are_skipped_and_logged(
    runtime: Runtime, impression_flusher: ImpressionFlusher, caplog: pytest.LogCaptureFixture
) -> None:
    await runtime.redis.hset(
        keys.IMPRESSIONS,
        mapping={
            f"{SERVICE}|{NOON_QUARTER}": 2,
            f"{SERVICE}|{NOON_QUARTER + QUARTER}": 3,
            "no separator": 1,
            f"|{NOON_QUARTER}": 1,
            f"{SERVICE}|noon": 1,
            f"{SERVICE}|{NOON_QUARTER + 1}": 1,
            f"{SERVICE}|{NOON_QUARTER + 2 * QUARTER}": "many",
        },
    )
    with caplog.at_level(logging.WARNING, logger="collector.impression_flusher"):
        assert await impression_flusher.run_once() == 5
    assert await views(runtime) == 5
    assert impression_flusher.statistics.malformed == 5
    assert sum("malformed field" in record.message for record in caplog.records) == 5
    assert await impression_keys(runtime) == []


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (b"svc|900000", b"3", ("svc", 900_000, 3)),
        (b"a|b|0", b"1", ("a|b", 0, 1)),  # the last separator splits
        ("svc|1800000", "2", ("svc", 1_800_000, 2)),  # a decoding client's reply
        (b"svc", b"1", None),
        (b"|900000", b"1", None),
        (b"svc|", b"1", None),
        (b"svc|900001", b"1", None),  # not the start of a quarter hour
        (b"svc|-900000", b"1", None),
        (b"svc|9_000_000", b"1", None),
        ("svc|\u0669", b"1", None),  # a digit, but not an ASCII one
        (b"svc|900000", b"0", None),
        (b"svc|900000", b"-1", None),
        (b"svc|900000", b" 1", None),
        (b"svc|900000", b"9223372036854775808", None),  # beyond storage's integers
        (b"svc|\xff", b"1", None),  # not UTF-8
    ],
)
def test_parse_field(name: bytes | str, value: bytes | str, expected: object) -> None:
    assert parse_field(name, value) == expected
