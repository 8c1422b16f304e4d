"""The flusher through storage outages, restarts and bad data: ratings wait, not die."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from collector import keys
from collector.flusher import Flusher
from collector.messages import EVENT_ENCODER
from collector.redis_clients import flusher_client
from collector.runtime import Runtime
from collector.storage.sqlite import SqliteStorage, sqlite_path
from tests.conftest import make_flusher
from tests.helpers import add, dead_letters, event, eventually, pending, rows


def locked_storage(runtime: Runtime) -> tuple[SqliteStorage, sqlite3.Connection]:
    """Storage that gives up after 50 ms, and a connection holding the write lock."""
    path = sqlite_path(runtime.settings.effective_database_url)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    return SqliteStorage(path, busy_timeout_milliseconds=50), blocker


def flusher_on(runtime: Runtime, storage: SqliteStorage, consumer: str, **options: Any) -> Flusher:
    return Flusher(
        flusher_client(runtime.settings.redis_url, 50),
        storage,
        consumer=consumer,
        block_milliseconds=50,
        **options,
    )


def pending_is(runtime: Runtime, expected: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await pending(runtime) == expected

    return check


async def test_storage_outage_keeps_the_backlog_then_drains_it(runtime: Runtime) -> None:
    storage, blocker = locked_storage(runtime)
    flusher = flusher_on(runtime, storage, "outage")
    await flusher.ensure_group()
    await add(runtime, event(5), event(4))
    task = asyncio.create_task(flusher.run())
    try:
        await eventually(pending_is(runtime, 2))  # read, not stored
        await asyncio.sleep(0.3)  # several failed attempts while the database is locked
        assert await pending(runtime) == 2
        blocker.execute("ROLLBACK")
        await eventually(pending_is(runtime, 0))
        assert await rows(runtime) == 2
    finally:
        blocker.close()
        flusher.stop()
        await task
        await flusher.close()
        await storage.close()


async def test_stop_during_outage_leaves_the_batch_pending(runtime: Runtime) -> None:
    storage, blocker = locked_storage(runtime)
    flusher = flusher_on(runtime, storage, "stop")
    await flusher.ensure_group()
    await add(runtime, event(5))
    task = asyncio.create_task(flusher.run())
    try:
        await eventually(pending_is(runtime, 1))
        flusher.stop()
        await asyncio.wait_for(task, 10)
    finally:
        blocker.close()
        await flusher.close()
        await storage.close()
    assert await pending(runtime) == 1  # not acknowledged, so not lost
    assert await rows(runtime) == 0


async def test_restarts_during_an_outage_do_not_dead_letter_ratings(runtime: Runtime) -> None:
    storage, blocker = locked_storage(runtime)
    await add(runtime, event(5), event(4), event(3))
    # The same consumer restarted six times while storage is down: every start
    # re-reads its pending entries, so Redis counts six deliveries.
    for _ in range(6):
        flusher = flusher_on(runtime, storage, "restarted", max_deliveries=2)
        await flusher.ensure_group()
        task = asyncio.create_task(flusher.run())
        await eventually(pending_is(runtime, 3))
        await asyncio.sleep(0.1)
        flusher.stop()
        await asyncio.wait_for(task, 10)
        await flusher.close()
    blocker.execute("ROLLBACK")
    blocker.close()
    survivor = flusher_on(runtime, storage, "restarted", max_deliveries=2)
    assert await survivor.drain_own_pending() == 3
    await survivor.close()
    await storage.close()
    assert await rows(runtime) == 3
    assert await dead_letters(runtime) == []
    assert await pending(runtime) == 0


async def test_a_corrupt_database_is_an_outage_not_bad_data(
    runtime: Runtime, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not an SQLite database file" * 100)
    storage = SqliteStorage(broken, busy_timeout_milliseconds=50)
    flusher = flusher_on(runtime, storage, "corrupt")
    await flusher.ensure_group()
    await add(runtime, event(5), event(1))
    task = asyncio.create_task(flusher.run())
    await eventually(pending_is(runtime, 2))
    await asyncio.sleep(0.3)
    flusher.stop()
    await asyncio.wait_for(task, 10)
    await flusher.close()
    await storage.close()
    assert await dead_letters(runtime) == []
    assert await pending(runtime) == 2  # kept for when storage is repaired


async def test_an_out_of_range_entry_is_dead_lettered_alone(
    runtime: Runtime, flusher: Flusher
) -> None:
    good = event(4)
    bad = EVENT_ENCODER.encode(good).replace(str(good.received_at).encode(), str(2**63).encode())
    await add(runtime, event(5))
    await runtime.redis.xadd(keys.STREAM, {"e": bad})
    await add(runtime, event(3))
    assert await flusher.run_once(block=False) == 3
    assert await rows(runtime) == 2
    letters = await dead_letters(runtime)
    assert len(letters) == 1
    assert b"received_at" in letters[0][b"reason"]
    assert await pending(runtime) == 0


async def test_an_unopenable_database_is_retried_then_flushed(
    runtime: Runtime,
) -> None:
    # A storage whose file cannot even be opened: a directory stands where it should be.
    where = sqlite_path(runtime.settings.effective_database_url).parent / "a-directory.db"
    where.mkdir()
    storage = SqliteStorage(where, busy_timeout_milliseconds=50)
    flusher = flusher_on(runtime, storage, "survivor")
    await flusher.ensure_group()
    await add(runtime, event(5))
    task = asyncio.create_task(flusher.run())
    await eventually(pending_is(runtime, 1))
    await asyncio.sleep(0.2)
    assert not task.done()  # alive, retrying; nothing dead-lettered
    flusher.stop()
    await asyncio.wait_for(task, 10)
    await flusher.close()
    await storage.close()
    assert await dead_letters(runtime) == []
    assert await pending(runtime) == 1
    replacement = make_flusher(runtime, "survivor")
    assert await replacement.drain_own_pending() == 1
    await replacement.close()
    assert await rows(runtime) == 1


async def restricted_url(runtime: Runtime, user: str, denied: str) -> str:
    """The URL of a new Redis user who may run every command but `denied` (an ACL left
    too tight)."""
    password = "a-password-for-this-test"
    await runtime.redis.acl_setuser(
        user,
        enabled=True,
        reset=True,
        passwords=[f"+{password}"],
        categories=["+@all"],
        commands=[f"-{denied}"],
        keys=["*"],
    )
    address = urlsplit(runtime.settings.redis_url)
    netloc = f"{user}:{password}@{address.hostname}:{address.port}"
    return address._replace(netloc=netloc).geturl()


async def test_an_error_recurring_in_every_round_backs_off(runtime: Runtime) -> None:
    """Redis refuses XAUTOCLAIM to the flusher's user: the drain of its own pending
    entries works, the claim fails again in every round. The waits between rounds
    double up to 5 s, rather than staying at 0.1 s."""
    user = "flusher-without-claim"
    waits: list[float] = []

    async def pause(seconds: float) -> None:  # records each wait instead of waiting
        waits.append(seconds)
        if len(waits) == 8:
            flusher.stop()

    url = await restricted_url(runtime, user, "xautoclaim")
    flusher = Flusher(
        flusher_client(url, 50),
        runtime.storage,
        consumer="without-claim",
        block_milliseconds=50,
        pause=pause,
    )
    try:
        await asyncio.wait_for(flusher.run(), 30)
    finally:
        await flusher.close()
        await runtime.redis.acl_deluser(user)
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0])


async def test_a_trim_that_keeps_failing_fails_one_round_in_many(runtime: Runtime) -> None:
    """Redis refuses XTRIM: the first round stores its batch, then fails in the trim.
    The trim is due again only an interval later, so the rounds between flush."""
    user = "flusher-without-trim"
    waits: list[float] = []

    async def pause(seconds: float) -> None:  # records each wait instead of waiting
        waits.append(seconds)

    url = await restricted_url(runtime, user, "xtrim")
    flusher = Flusher(
        flusher_client(url, 50),
        runtime.storage,
        consumer="without-trim",
        block_milliseconds=50,
        pause=pause,
    )
    await flusher.ensure_group()
    await add(runtime, event(5))
    running = asyncio.create_task(flusher.run())
    try:
        await eventually(partial(rows_are, runtime, 1))
        for stored in (2, 3, 4):
            await add(runtime, event())
            await eventually(partial(rows_are, runtime, stored))
    finally:
        flusher.stop()
        await asyncio.wait_for(running, 30)
        await flusher.close()
        await runtime.redis.acl_deluser(user)
    assert waits == [0.1]  # one failed round, then none


async def rows_are(runtime: Runtime, expected: int) -> bool:
    return await rows(runtime) == expected
