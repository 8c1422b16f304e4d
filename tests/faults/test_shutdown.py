"""SIGTERM to `collector serve` with requests in flight and a batch in the flusher's
hands: the requests get their thank-you, the batch is committed and acknowledged
before the process exits (README: "Ctrl-C or SIGTERM stops it cleanly, in this order"),
and whatever arrived too late for the flusher is flushed on the next start."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from collector.embedded_redis import EmbeddedRedis
from collector.settings import Settings
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import ServeProcess
from tests.faults.backlog import Backlog
from tests.faults.collector_process import embedded_redis_url, start_serve
from tests.faults.load import RatingLoad, Result, read_response
from tests.faults.storage_audit import assert_reconciled, stored_ids
from tests.helpers import eventually

BEFORE = 40  # thanked before the signal; the flusher holds some of them
IN_FLIGHT = 6  # requests whose bodies are still on their way when the signal comes
# A worker's whole stop, shortened (COLLECTOR_STOP_TIMEOUT_SECONDS); with storage
# locked, each shard's flusher alone would wait SQLite's 10 s busy timeout, in turn.
STOP_TIMEOUT_SECONDS = 3
SHARDS = 4
# After the worker's deadline: its exit, the supervisor's, the embedded server's fsync.
EXIT_MARGIN_SECONDS = 5

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def begin_post(load: RatingLoad, body: bytes) -> Streams:
    """Send a POST's headers only, and wait until the collector is reading its body
    (it asks for it with "100 Continue"): a request in flight."""
    reader, writer = await asyncio.open_connection(load.host, load.port)
    writer.write(load.head(body, "expect: 100-continue"))
    await writer.drain()
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert interim.startswith(b"HTTP/1.1 100 "), interim
    return reader, writer


async def finish_post(streams: Streams, body: bytes) -> int:
    reader, writer = streams
    writer.write(body)
    await writer.drain()
    try:
        status, _ = await asyncio.wait_for(read_response(reader), 30)
    finally:
        writer.close()
    return status


def refusing(load: RatingLoad) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            _, writer = await asyncio.open_connection(load.host, load.port)
        except ConnectionRefusedError:
            return True
        writer.close()
        return False

    return check


async def pending_in_aof(data_dir: Path) -> int:
    """Entries left unacknowledged in the stopped collector's Redis data."""
    password = Settings(secret=TEST_SECRET).derived_key("embedded redis password")
    server = EmbeddedRedis(data_dir / "redis", password=password)
    await asyncio.to_thread(server.start)
    backlog = Backlog(server.url)
    try:
        return await backlog.pending()
    finally:
        await backlog.close()
        await asyncio.to_thread(server.stop)


async def wait_for_exit(serve: ServeProcess, timeout_seconds: float) -> int:
    assert serve.process is not None
    code = await asyncio.to_thread(serve.process.wait, timeout_seconds)
    if serve.process.stdout is not None:
        serve.process.stdout.close()
    serve.process = None
    return code


async def test_sigterm_finishes_requests_and_commits_the_flushers_batch(tmp_path: Path) -> None:
    serve = start_serve(tmp_path / "data")
    database = serve.data_dir / "collector.db"
    backlog = Backlog(embedded_redis_url(serve.data_dir))
    blocker = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        # Storage locked: the flusher reads a batch and cannot commit it yet.
        blocker.execute("BEGIN EXCLUSIVE")
        load = RatingLoad(serve.url, TEST_SECRET, connections=4)
        assert (await load.run(BEFORE)).statuses() == {303: BEFORE}

        async def holding_a_batch() -> bool:
            return await backlog.pending() > 0

        await eventually(holding_a_batch, 30)
        held = await backlog.held_rating_ids()
        forms = [load.form(number) for number in range(BEFORE, BEFORE + IN_FLIGHT)]
        in_flight = [await begin_post(load, body) for _, body in forms]

        assert serve.process is not None
        serve.process.send_signal(signal.SIGTERM)
        await eventually(refusing(load), 30)  # no new connections taken
        assert serve.process.poll() is None  # still there: requests are in flight
        blocker.execute("ROLLBACK")  # storage is back while the collector drains
        for (marker, body), streams in zip(forms, in_flight, strict=True):
            sent_at = time.monotonic()
            status = await finish_post(streams, body)
            load.outcomes.results.append(Result(marker, status, sent_at, time.monotonic()))
        assert load.outcomes.statuses() == {303: BEFORE + IN_FLIGHT}
        assert await wait_for_exit(serve, 60) == 0
        await backlog.close()

        # The batch the flusher held at the signal was committed, and acknowledged.
        assert stored_ids(database, held) == len(held) > 0
        assert await pending_in_aof(serve.data_dir) == 0
        # The next start flushes what arrived after the flusher's last read.
        serve.start()
        backlog = Backlog(embedded_redis_url(serve.data_dir))
        await eventually(backlog.drained, 30)
        assert_reconciled(load.outcomes, database, load.prefix)
        assert serve.terminate() == 0
    finally:
        blocker.close()
        await backlog.close()
        serve.kill()


async def test_sigterm_right_after_the_banner_stops_the_collector(tmp_path: Path) -> None:
    # Between the banner and uvicorn's own signal handler there is a moment (the GC
    # freeze) in which a SIGTERM used to be ignored, and the collector ran on.
    for _ in range(2):
        serve = start_serve(tmp_path / "data")
        try:
            assert serve.terminate(timeout_seconds=30) == 0
        finally:
            serve.kill()


async def test_sigterm_with_storage_locked_stops_within_the_stop_timeout(tmp_path: Path) -> None:
    serve = start_serve(
        tmp_path / "data",
        REDIS_SHARDS=str(SHARDS),
        COLLECTOR_STOP_TIMEOUT_SECONDS=str(STOP_TIMEOUT_SECONDS),
    )
    database = serve.data_dir / "collector.db"
    backlog = Backlog(embedded_redis_url(serve.data_dir), shards=SHARDS)
    blocker = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        # Storage locked: the flushers hold batches they cannot commit.
        blocker.execute("BEGIN EXCLUSIVE")
        load = RatingLoad(serve.url, TEST_SECRET, connections=4)
        assert (await load.run(BEFORE)).statuses() == {303: BEFORE}

        async def holding_a_batch() -> bool:
            return await backlog.pending() > 0

        await eventually(holding_a_batch, 30)
        await backlog.close()
        assert serve.process is not None
        signalled = time.monotonic()
        serve.process.send_signal(signal.SIGTERM)
        assert await wait_for_exit(serve, 120) == 0
        stopped_after = time.monotonic() - signalled
        print(f"stopped {stopped_after:.1f} s after SIGTERM, storage locked")
        assert stopped_after < STOP_TIMEOUT_SECONDS + EXIT_MARGIN_SECONDS
        # Nothing thanked is lost: the batches stayed pending, and the next start,
        # with storage back, stores every one of them.
        blocker.execute("ROLLBACK")
        serve.start()
        backlog = Backlog(embedded_redis_url(serve.data_dir), shards=SHARDS)
        await eventually(backlog.drained, 60)
        assert_reconciled(load.outcomes, database, load.prefix)
        assert await backlog.dead_letters() == 0
        assert serve.terminate() == 0
    finally:
        blocker.close()
        await backlog.close()
        serve.kill()
