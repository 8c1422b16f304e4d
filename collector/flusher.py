"""The flusher: moves ratings from the Redis stream into storage, losing none.

A consumer group member. Each batch is stored in one transaction (duplicates skipped by
id, collector/batch_writer.py), then acknowledged, so a crash between the two means
redelivery, never loss or a double count. On start, and again after any error, it
first drains what it had pending; entries left idle by a dead consumer are claimed with
XAUTOCLAIM; an entry that cannot be stored, or was delivered too often, goes to the
dead-letter stream with its reason. The stream is trimmed only below the oldest entry
not yet acknowledged (collector/stream_housekeeping.py).

Its client never re-sends a command (collector/redis_clients.py); run() starts over
after an error. Each call says why that is safe when its reply was lost: XGROUP CREATE,
the reads and the trimming are done again, the acknowledgement is safe to apply twice,
and what XREADGROUP `>` or XAUTOCLAIM delivered is in this consumer's pending list.

A flusher reads one shard's stream (REDIS_SHARDS); runner.py starts one per shard.
Each shard's stream has its own consumer group, so one consumer name serves in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError, ResponseError

from collector import keys
from collector.acknowledgement import Acknowledgement, DeadLetter, StoredEntries
from collector.batch_writer import BatchWriter, Events, StreamEntry, decode
from collector.redis_clients import RedisClient, reply_text
from collector.storage import Storage, StorageUnavailable
from collector.stream_housekeeping import StreamHousekeeping

logger = logging.getLogger(__name__)

_TRIM_INTERVAL_SECONDS = 10.0
_FIRST_BACKOFF_SECONDS = 0.1
_MAXIMUM_BACKOFF_SECONDS = 5.0
Pause = Callable[[float], Awaitable[None]]


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class FlusherStopped(Exception):
    """Asked to stop while a batch could not be stored; it stays pending in Redis."""


@dataclass(slots=True)
class FlushStatistics:
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    batches: int = 0


class Flusher:
    def __init__(
        self,
        redis: RedisClient,
        storage: Storage,
        *,
        shard: int = 0,
        consumer: str | None = None,
        batch_size: int = 1000,
        block_milliseconds: int = 2000,
        max_deliveries: int = 5,
        claim_idle_milliseconds: int = 60_000,
        pause: Pause | None = None,
    ) -> None:
        """pause: how it waits to try again (default: that long, or until stop())."""
        self._redis = redis
        self._writer = BatchWriter(storage, self._wait_for_storage)
        self.consumer = consumer or default_consumer_name()
        self.shard = shard
        self._stream = keys.stream(shard)
        self._acknowledgement = Acknowledgement(redis, shard, self.consumer)
        self.housekeeping = StreamHousekeeping(redis, shard, self.consumer)
        self._batch_size = batch_size
        self._block = block_milliseconds
        self._max_deliveries = max_deliveries
        self._claim_idle = claim_idle_milliseconds
        self._claim_cursor = "0-0"
        self._next_claim = 0.0
        self._next_trim = 0.0
        self._stop = asyncio.Event()
        self._sleep = pause or self._wait_unless_stopped
        self.statistics = FlushStatistics()

    async def close(self) -> None:
        """Close the flusher's own Redis connection."""
        await self._redis.aclose()

    def stop(self) -> None:
        """Finish the batch in hand, then return from run()."""
        self._stop.set()

    async def run(self) -> None:
        """Flush until stop() is called; survives Redis and storage outages."""
        backoff = _FIRST_BACKOFF_SECONDS
        drained = False
        while not self._stop.is_set():
            stored_before = self.statistics.stored
            try:
                if not drained:
                    await self.ensure_group()
                    await self.drain_own_pending()
                    drained = True
                await self.run_once()
                backoff = _FIRST_BACKOFF_SECONDS
                continue
            except FlusherStopped:
                break
            except Exception as error:
                # The wait doubles while rounds fail without storing a new row (an
                # error that recurs: in the claim, the trim, the acknowledgement of the
                # same batch). After a round that stored some (a lost reply, a restart)
                # it starts again at its first, so the next batch waits no longer.
                if self.statistics.stored > stored_before:
                    backoff = _FIRST_BACKOFF_SECONDS
                if isinstance(error, (RedisError, OSError)):
                    # A read whose reply was lost (the server ran it, then exited, or
                    # the connection broke) delivered entries this consumer never saw.
                    # They are in its pending list: the drain reads it first, rather
                    # than leave them to wait FLUSH_CLAIM_IDLE_SECONDS for XAUTOCLAIM.
                    logger.warning("flusher: Redis error, retrying in %.1fs: %s", backoff, error)
                else:
                    # Never die silently while citizens are still being thanked: what
                    # was read stays pending, is read again and, if it keeps failing,
                    # is stored row by row and dead-lettered.
                    logger.exception("flusher: unexpected error, retrying in %.1fs", backoff)
            drained = False
            await self._sleep(backoff)
            backoff = min(backoff * 2, _MAXIMUM_BACKOFF_SECONDS)
        logger.info("flusher %s (shard %d) stopped: %s", self.consumer, self.shard, self.statistics)

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self._stream, keys.FLUSHER_GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def drain_own_pending(self) -> int:
        """Process what this consumer had read but not acknowledged (after a crash, or
        a read or claim whose reply was lost)."""
        # XREADGROUP with an id reads this consumer's pending entries: read again
        # after an error, it returns them again (their delivery count goes up, which
        # _often_delivered allows for).
        processed = 0
        cursor = "0"
        while True:
            reply = await self._redis.xreadgroup(
                keys.FLUSHER_GROUP, self.consumer, {self._stream: cursor}, count=self._batch_size
            )
            entries = _entries(reply)
            if not entries:
                return processed
            processed += await self.process(entries, redelivered=True)
            cursor = entries[-1][0].decode()

    async def run_once(self, block: bool = True) -> int:
        """Claim abandoned entries when due, else read and process one new batch."""
        now = time.monotonic()
        if now >= self._next_claim:
            claimed = await self.claim_abandoned()
            if claimed:
                return claimed
            self._next_claim = now + max(1.0, self._claim_idle / 2000)
        processed = await self.process(await self.read_new(block), redelivered=False)
        if time.monotonic() >= self._next_trim:
            # Due again in an interval even if it fails: a trim that keeps failing
            # fails one round in so many, and the rounds between flush as usual.
            self._next_trim = time.monotonic() + _TRIM_INTERVAL_SECONDS
            await self.housekeeping.trim()
            await self.housekeeping.forget_idle_consumers()
        return processed

    async def read_new(self, block: bool = True) -> list[StreamEntry]:
        """Read the next batch never delivered to any consumer of the group."""
        # Not idempotent: running it marks the entries delivered to this consumer, and
        # a second `>` read returns only later ones. After an error, run() drains.
        reply = await self._redis.xreadgroup(
            keys.FLUSHER_GROUP,
            self.consumer,
            {self._stream: ">"},
            count=self._batch_size,
            block=self._block if block else None,
        )
        return _entries(reply)

    async def claim_abandoned(self) -> int:
        """XAUTOCLAIM entries idle longer than the claim threshold, one page of them."""
        # Not idempotent: it gives the entries to this consumer and resets their idle
        # time, so a second run would not return them. After an error, run() drains.
        reply = await self._redis.xautoclaim(
            self._stream,
            keys.FLUSHER_GROUP,
            self.consumer,
            self._claim_idle,
            self._claim_cursor,
            count=self._batch_size,
        )
        next_cursor, entries = reply[0], reply[1]
        self._claim_cursor = reply_text(next_cursor)
        if entries:
            logger.info(
                "flusher %s claimed %d abandoned entries of shard %d",
                self.consumer,
                len(entries),
                self.shard,
            )
            return await self.process(list(entries), redelivered=True)
        return 0

    async def process(self, entries: Sequence[StreamEntry], *, redelivered: bool) -> int:
        """Store the entries, dead-letter the bad ones, acknowledge all of them."""
        if not entries:
            return 0
        started = time.perf_counter()
        events, dead, vanished = decode(entries)
        suspects = await self._often_delivered(events) if redelivered and events else set()
        settled = [StoredEntries(vanished, 0, 0)] if vanished else []
        for stored, refused in (
            await self._writer.write([item for item in events if item[0] not in suspects]),
            await self._writer.write_each([item for item in events if item[0] in suspects]),
        ):
            settled += stored
            dead += refused
        self.statistics.stored += sum(group.stored for group in settled)
        self.statistics.duplicates += sum(group.duplicates for group in settled)
        await self._acknowledge(settled, dead, time.perf_counter() - started)
        self.statistics.batches += 1
        return len(entries)

    async def _often_delivered(self, events: Events) -> set[bytes]:
        """Entries delivered more than max_deliveries times.

        Redis counts every delivery, including those after an outage or a restart, so a
        high count alone proves nothing: such entries are stored one by one, and only
        a failure then sends one to the dead letters.
        """
        # XPENDING only reads: run again after an error, it reads again.
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry_id, _ in events:
                pipe.xpending_range(self._stream, keys.FLUSHER_GROUP, entry_id, entry_id, 1)
            replies = await pipe.execute()
        return {
            entry_id
            for (entry_id, _), reply in zip(events, replies, strict=True)
            if reply and int(reply[0]["times_delivered"]) > self._max_deliveries
        }

    async def _wait_for_storage(self, error: StorageUnavailable) -> None:
        if self._stop.is_set():
            # Leave the batch pending in Redis: the next start drains it.
            raise FlusherStopped from error
        logger.warning("flusher: storage unavailable, batch kept pending: %s", error)
        await self._sleep(1.0)

    async def _acknowledge(
        self, settled: list[StoredEntries], dead: list[DeadLetter], seconds: float
    ) -> None:
        if not settled and not dead:
            return
        for letter in dead:
            logger.error(
                "dead letter: shard %d stream entry %s: %s",
                self.shard,
                letter.entry_id.decode(),
                letter.reason,
            )
        # Safe to apply twice: it dead-letters and counts only what it found still
        # pending (collector/acknowledgement.py). After a lost reply, what it
        # acknowledged is no longer pending, so the drain does not process it again.
        acknowledged = await self._acknowledgement.send(settled, dead, seconds)
        self.statistics.dead_letters += acknowledged.dead_letters

    async def _wait_unless_stopped(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)


def _entries(reply: Any) -> list[StreamEntry]:
    """XREADGROUP's RESP3 reply, {stream: [[(id, fields), ...]]}, as a list of entries."""
    entries: list[StreamEntry] = []
    for wrapped in (reply or {}).values():
        for stream_entries in wrapped:
            entries.extend((entry_id, fields or {}) for entry_id, fields in stream_entries)
    return entries
