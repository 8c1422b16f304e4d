"""The spool: ratings kept on disk while Redis is down, sent once it is back."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import struct
import zlib
from pathlib import Path

import pytest

from collector import keys
from collector.buffer import RateLimit, RatingBuffer
from collector.embedded_redis import EmbeddedRedis
from collector.errors import ServiceUnavailable
from collector.messages import EVENT_DECODER
from collector.redis_clients import hot_path_client
from collector.runtime import Runtime
from collector.spool import RatingSpool, SpoolFull
from tests.helpers import event, eventually, stream_entries


def spool_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


async def stored_ids(runtime: Runtime) -> list[str]:
    entries = await stream_entries(runtime.redis, keys.STREAM)
    return [EVENT_DECODER.decode(fields[b"e"]).id for _, fields in entries]


async def test_spooled_ratings_reach_the_stream_once(runtime: Runtime, tmp_path: Path) -> None:
    spool = RatingSpool(tmp_path / "spool")
    ratings = [event(stars) for stars in (1, 2, 3)]
    for n, rating in enumerate(ratings):
        await spool.append(rating, f"nonce-{n}", 0)
    assert spool.waiting()
    assert await spool.replay(runtime.buffer) == 3
    assert await stored_ids(runtime) == [rating.id for rating in ratings]
    assert spool_files(tmp_path / "spool") == []
    assert not spool.waiting()
    # The nonces were used up: a form thanked from the spool cannot be stored again.
    assert await runtime.redis.exists(keys.form_nonce(ratings[0].service, "nonce-0"))


async def test_a_replay_cut_short_is_done_again_without_doubles(
    runtime: Runtime, tmp_path: Path
) -> None:
    """A crash after some ratings were sent: the file is sent again, Redis keeps one each."""
    spool = RatingSpool(tmp_path / "spool")
    first, second = event(4), event(5)
    await spool.append(first, "a", 0)
    await spool.append(second, "b", 0)
    await runtime.buffer.submit(first, "a", rate_limited=False)  # sent before the "crash"
    assert await spool.replay(runtime.buffer) == 1
    assert await stored_ids(runtime) == [first.id, second.id]


async def test_a_rating_that_reached_redis_after_all_is_not_doubled(
    runtime: Runtime, tmp_path: Path
) -> None:
    """Redis took it but its reply was lost, so it was spooled too: one copy."""
    rating = event(3)
    await runtime.buffer.submit(rating, "lost-reply")
    spool = RatingSpool(tmp_path / "spool")
    await spool.append(rating, "lost-reply", 0)
    assert await spool.replay(runtime.buffer) == 0
    assert await stored_ids(runtime) == [rating.id]


async def test_replays_ignore_rate_limits(runtime: Runtime, tmp_path: Path) -> None:
    spool = RatingSpool(tmp_path / "spool")
    limit = runtime.settings.rate_limit_per_minute
    for n in range(limit + 5):  # all from one client, more than its limit
        await spool.append(event(), f"n{n}", 0)
    assert await spool.replay(runtime.buffer) == limit + 5


async def test_nothing_is_lost_while_redis_stays_down(
    runtime: Runtime, tmp_path: Path, private_redis: EmbeddedRedis
) -> None:
    client = hot_path_client(private_redis.url)
    buffer = RatingBuffer(
        client,
        client_limit=RateLimit(30, burst=30),
        service_limit=RateLimit(1000, burst=1000),
        nonce_ttl_seconds=60,
    )
    spool = RatingSpool(tmp_path / "spool")
    rating = event(2)
    await spool.append(rating, "down", 0)
    private_redis.stop()
    try:
        with pytest.raises(ServiceUnavailable):
            await spool.replay(buffer)
        assert len(spool_files(tmp_path / "spool")) == 1  # kept for the next attempt
        private_redis.start()
        assert await spool.replay(buffer) == 1
        assert spool_files(tmp_path / "spool") == []
    finally:
        await client.aclose()


async def test_a_replay_that_hits_a_bug_keeps_the_file_and_keeps_replaying(
    runtime: Runtime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The submit script fails on a wrong-typed stream key, as it would at every try:
    logged, the file kept, the loop still running; once fixed, the rating arrives."""
    spool = RatingSpool(tmp_path / "spool")
    rating = event()
    await spool.append(rating, "nonce-bug", 0)
    await runtime.redis.set(keys.STREAM, "not a stream")
    with caplog.at_level(logging.ERROR, logger="collector.spool"):
        replaying = asyncio.create_task(spool.run(runtime.buffer, runtime.redis))

        async def logged() -> bool:
            return any(
                record.name == "collector.spool" and record.levelno == logging.ERROR
                for record in caplog.records
            )

        await eventually(logged)
        assert not replaying.done()
        assert spool.waiting()
        spool.stop()
        await asyncio.wait_for(replaying, 5)
    await runtime.redis.delete(keys.STREAM)
    assert await spool.replay(runtime.buffer) == 1
    assert await stored_ids(runtime) == [rating.id]


async def test_a_live_writers_file_is_left_to_it(runtime: Runtime, tmp_path: Path) -> None:
    """Another process's open file is not replayed under it; once it is gone, it is."""
    directory = tmp_path / "spool"
    other_process = RatingSpool(directory)
    await other_process.append(event(5), "theirs", 0)
    (name,) = spool_files(directory)
    other_process.close()
    holder = os.open(directory / name, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a live writer holds it
    ours = RatingSpool(directory)
    assert await ours.replay(runtime.buffer) == 0
    assert spool_files(directory) == [name]
    os.close(holder)  # the writer died
    assert await ours.replay(runtime.buffer) == 1
    assert spool_files(directory) == []


def record(payload: bytes) -> bytes:
    return struct.pack(">II", len(payload), zlib.crc32(payload)) + payload


async def test_a_record_cut_short_by_a_crash_is_dropped(runtime: Runtime, tmp_path: Path) -> None:
    """A crash mid-write: that rating's fsync never returned, so it was never thanked."""
    spool = RatingSpool(tmp_path / "spool")
    await spool.append(event(5), "whole", 0)
    spool.close()
    (name,) = spool_files(tmp_path / "spool")
    path = tmp_path / "spool" / name
    path.write_bytes(path.read_bytes() + record(b"\x93\xc4\x10partial")[:9])
    assert await spool.replay(runtime.buffer) == 1
    assert spool_files(tmp_path / "spool") == []


async def test_damage_before_the_end_is_kept_for_a_person(runtime: Runtime, tmp_path: Path) -> None:
    spool = RatingSpool(tmp_path / "spool")
    await spool.append(event(5), "first", 0)
    spool.close()
    (name,) = spool_files(tmp_path / "spool")
    path = tmp_path / "spool" / name
    whole = path.read_bytes()
    damaged = bytearray(whole)
    damaged[-1] ^= 0xFF  # the first record's checksum no longer matches...
    path.write_bytes(bytes(damaged) + whole)  # ...and a good record follows it
    assert await spool.replay(runtime.buffer) == 0
    assert spool_files(tmp_path / "spool") == [name.replace(".spool", ".damaged")]


async def test_a_full_spool_refuses(tmp_path: Path) -> None:
    measure = RatingSpool(tmp_path / "measure")
    await measure.append(event(5, "a" * 100), "size", 0)
    measure.close()
    (name,) = spool_files(tmp_path / "measure")
    size = (tmp_path / "measure" / name).stat().st_size
    spool = RatingSpool(tmp_path / "spool", maximum_bytes=2 * size + size // 2)
    for n in range(2):
        await spool.append(event(5, "a" * 100), f"fits{n}", 0)
    with pytest.raises(SpoolFull):
        await spool.append(event(5, "a" * 100), "too-many", 0)
    spool.close()


async def test_files_are_private(tmp_path: Path) -> None:
    spool = RatingSpool(tmp_path / "spool")
    await spool.append(event(5, "my comment"), "n", 0)
    (name,) = spool_files(tmp_path / "spool")
    assert (tmp_path / "spool" / name).stat().st_mode & 0o777 == 0o600
    spool.close()


async def test_a_failed_write_leaves_no_damage_before_later_ratings(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills up mid-record: that rating is refused (503 for the citizen), its
    partial record ends its file, and the next rating starts a new file."""
    spool = RatingSpool(tmp_path / "spool")
    first, refused, later = event(1), event(2), event(3)
    await spool.append(first, "first", 0)
    real_write = os.write

    def half_then_full(descriptor: int, data: memoryview) -> int:
        real_write(descriptor, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("collector.spool.os.write", half_then_full)
    with pytest.raises(OSError, match="No space"):
        await spool.append(refused, "refused", 0)
    monkeypatch.undo()
    await spool.append(later, "later", 0)
    assert len(spool_files(tmp_path / "spool")) == 2
    assert await spool.replay(runtime.buffer) == 2
    assert await stored_ids(runtime) == [first.id, later.id]
    assert spool_files(tmp_path / "spool") == []  # nothing kept aside as damaged
