"""The flusher: moves ratings from the Redis stream into storage, losing none.

A consumer group member. Each batch is stored in one transaction (duplicates skipped by
id), then acknowledged, so a crash between the two means redelivery, never loss or a
double count. On start, and again after any error, it first drains what it had
pending; entries left idle by a dead consumer are claimed with XAUTOCLAIM; an entry
that cannot be stored, or was delivered too often, goes to the dead-letter stream with
its reason. The stream is trimmed only below the oldest entry not yet acknowledged.

Its client never re-sends a command (collector/redis_clients.py); run() starts over
after an error. Each call says why that is safe when its reply was lost: XGROUP CREATE,
the reads and the trimming are done again, the acknowledgement is safe to apply twice,
and what XREADGROUP `>` or XAUTOCLAIM delivered is in this consumer's pending list.

A flusher reads one shard's stream (REDIS_SHARDS); runner.py starts flushers for every
shard. Each shard's stream has its own consumer group, so one consumer name serves in
all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.exceptions import RedisError, ResponseError

from collector import keys
from collector.acknowledgement import Acknowledgement, DeadLetter
from collector.device import classify
from collector.messages import EVENT_DECODER, RatingEvent, StoredRating
from collector.metrics import BatchFigures
from collector.redaction import redact
from collector.redis_clients import RedisClient, reply_text
from collector.storage import RecordRejected, Storage, StorageUnavailable

logger = logging.getLogger(__name__)

_TRIM_INTERVAL_SECONDS = 10.0
# A consumer that has not even polled for a day is gone (a live one polls every
# few seconds). Deleting it keeps XINFO readable as flushers come and go.
_FORGET_CONSUMER_AFTER_MILLISECONDS = 86_400_000
# Atomic, so a consumer cannot read entries between the check and the delete (which
# would drop its pending entries with it).
_FORGET_IDLE_CONSUMERS = """
local removed = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = {}
  for i = 1, #consumer, 2 do fields[consumer[i]] = consumer[i + 1] end
  if fields['pending'] == 0 and fields['idle'] > tonumber(ARGV[2])
      and fields['name'] ~= ARGV[3] then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
    removed = removed + 1
  end
end
return removed
"""
_MAXIMUM_BACKOFF_SECONDS = 5.0

StreamEntry = tuple[bytes, dict[bytes, bytes]]


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


def to_stored(event: RatingEvent) -> StoredRating:
    device = classify(event.user_agent)
    return StoredRating(
        id=event.id,
        service=event.service,
        rating=event.rating,
        # The hot path redacted it already; again here for entries that reached the
        # stream or a spool before it did (redacting twice changes nothing).
        comment=redact(event.comment),
        language=event.language,
        channel=event.channel,
        received_at=event.received_at,
        device_class=device.device_class,
        os_family=device.os_family,
        browser_family=device.browser_family,
        is_bot=device.is_bot,
        answers={str(question): value for question, value in event.answers.items()},
        transaction=event.transaction,
        office=event.office,
        operator=event.operator,
        answer_seconds=event.answer_seconds,
    )


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
    ) -> None:
        self._redis = redis
        self._storage = storage
        self.consumer = consumer or default_consumer_name()
        self.shard = shard
        self._stream = keys.stream(shard)
        self._acknowledgement = Acknowledgement(redis, shard, self.consumer)
        self._batch_size = batch_size
        self._block = block_milliseconds
        self._max_deliveries = max_deliveries
        self._claim_idle = claim_idle_milliseconds
        self._claim_cursor = "0-0"
        self._next_claim = 0.0
        self._next_trim = 0.0
        self._stop = asyncio.Event()
        self._forget_idle = redis.register_script(_FORGET_IDLE_CONSUMERS)
        self.statistics = FlushStatistics()

    async def close(self) -> None:
        """Close the flusher's own Redis connection."""
        await self._redis.aclose()

    def stop(self) -> None:
        """Finish the batch in hand, then return from run()."""
        self._stop.set()

    async def run(self) -> None:
        """Flush until stop() is called; survives Redis and storage outages."""
        backoff = 0.1
        drained = False
        while not self._stop.is_set():
            try:
                if not drained:
                    await self.ensure_group()
                    await self.drain_own_pending()
                    drained = True
                    backoff = 0.1  # Redis answers again, and what was pending is stored
                await self.run_once()
                backoff = 0.1
            except FlusherStopped:
                break
            except (RedisError, OSError) as error:
                # A read whose reply was lost (the server ran it, then exited, or the
                # connection broke) delivered entries this consumer never saw. They are
                # in its pending list: read it first, rather than leave them to wait
                # FLUSH_CLAIM_IDLE_SECONDS for XAUTOCLAIM.
                drained = False
                logger.warning("flusher: Redis error, retrying in %.1fs: %s", backoff, error)
                await self._sleep(backoff)
                backoff = min(backoff * 2, _MAXIMUM_BACKOFF_SECONDS)
            except Exception:
                # Never die silently while citizens are still being thanked: what was
                # read stays pending, is read again and, if it keeps failing, is
                # stored row by row and dead-lettered.
                drained = False
                logger.exception("flusher: unexpected error, retrying in %.1fs", backoff)
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
            await self.trim()
            await self.forget_idle_consumers()
            self._next_trim = time.monotonic() + _TRIM_INTERVAL_SECONDS
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
        before = (self.statistics.stored, self.statistics.duplicates)
        events: list[tuple[bytes, RatingEvent]] = []
        dead: list[DeadLetter] = []
        vanished: list[bytes] = []
        for entry_id, fields in entries:
            if not fields:  # deleted from the stream while pending: nothing left to store
                vanished.append(entry_id)
                continue
            payload = fields.get(b"e", b"")
            try:
                events.append((entry_id, EVENT_DECODER.decode(payload)))
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                dead.append(DeadLetter(entry_id, payload, f"undecodable entry: {error}"))
        suspects = await self._often_delivered(events) if redelivered and events else set()
        dead.extend(await self._store([item for item in events if item[0] not in suspects]))
        dead.extend(await self._store_each([item for item in events if item[0] in suspects]))
        dead_ids = {letter.entry_id for letter in dead}
        stored_ids = [entry_id for entry_id, _ in events if entry_id not in dead_ids]
        batch = BatchFigures(
            entries=len(entries),
            stored=self.statistics.stored - before[0],
            duplicates=self.statistics.duplicates - before[1],
            dead_letters=len(dead),
            seconds=time.perf_counter() - started,
        )
        await self._acknowledge(stored_ids + vanished, dead, batch)
        self.statistics.batches += 1
        return len(entries)

    async def _often_delivered(self, events: list[tuple[bytes, RatingEvent]]) -> set[bytes]:
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

    async def _store(self, events: list[tuple[bytes, RatingEvent]]) -> list[DeadLetter]:
        """Store in one transaction; if the batch is refused, store row by row."""
        if not events:
            return []
        while True:
            try:
                ratings = [to_stored(event) for _, event in events]
                new_rows = await self._storage.store(ratings)
                self.statistics.stored += new_rows
                self.statistics.duplicates += len(ratings) - new_rows
                return []
            except StorageUnavailable as error:
                await self._wait_for_storage(error)
            except Exception:  # one row spoils the batch: find it, keep the others
                return await self._store_each(events)

    async def _store_each(self, events: list[tuple[bytes, RatingEvent]]) -> list[DeadLetter]:
        """Store row by row; a row that fails for any reason but an outage is refused."""
        refused: list[DeadLetter] = []
        for entry_id, event in events:
            while True:
                try:
                    self.statistics.stored += await self._storage.store([to_stored(event)])
                    break
                except StorageUnavailable as error:
                    await self._wait_for_storage(error)
                except Exception as error:
                    if not isinstance(error, RecordRejected):
                        logger.exception("flusher: unexpected error storing %s", entry_id)
                    payload = msgspec.json.encode(event)
                    reason = f"storage refused it: {type(error).__name__}: {error}"
                    refused.append(DeadLetter(entry_id, payload, reason))
                    break
        return refused

    async def _wait_for_storage(self, error: Exception) -> None:
        if self._stop.is_set():
            # Leave the batch pending in Redis: the next start drains it.
            raise FlusherStopped from error
        logger.warning("flusher: storage unavailable, batch kept pending: %s", error)
        await self._sleep(1.0)

    async def _acknowledge(
        self, entry_ids: list[bytes], dead: list[DeadLetter], batch: BatchFigures
    ) -> None:
        if not entry_ids and not dead:
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
        acknowledged = await self._acknowledgement.send(entry_ids, dead, batch)
        self.statistics.dead_letters += acknowledged.dead_letters

    async def trim(self) -> None:
        """Drop stream entries every group has acknowledged; never anything newer."""
        # Reads, then XTRIM MINID: run again, it finds the bound afresh.
        groups = await self._redis.xinfo_groups(self._stream)
        boundaries: list[tuple[int, int]] = []
        for group in groups:
            # XPENDING after XINFO: another flusher may have acknowledged everything in
            # between, and then there is no oldest pending entry ("min" is None).
            summary = await self._redis.xpending(self._stream, group["name"])
            if summary["pending"] and summary["min"] is not None:
                boundaries.append(_stream_id(summary["min"]))
            else:
                milliseconds, sequence = _stream_id(group["last-delivered-id"])
                boundaries.append((milliseconds, sequence + 1))
        if not boundaries:
            return
        milliseconds, sequence = min(boundaries)
        if (milliseconds, sequence) > (0, 1):
            await self._redis.xtrim(
                self._stream, minid=f"{milliseconds}-{sequence}", approximate=True
            )

    async def forget_idle_consumers(
        self, idle_milliseconds: int = _FORGET_CONSUMER_AFTER_MILLISECONDS
    ) -> int:
        """Delete consumers with nothing pending that have not polled for a day."""
        # Run again, the script finds the same consumers gone, or none.
        removed = await self._forget_idle(
            keys=[self._stream], args=[keys.FLUSHER_GROUP, idle_milliseconds, self.consumer]
        )
        return int(removed)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)


def _entries(reply: Any) -> list[StreamEntry]:
    """XREADGROUP's RESP3 reply, {stream: [[(id, fields), ...]]}, as a list of entries."""
    entries: list[StreamEntry] = []
    for wrapped in (reply or {}).values():
        for stream_entries in wrapped:
            entries.extend((entry_id, fields or {}) for entry_id, fields in stream_entries)
    return entries


def _stream_id(value: bytes | str) -> tuple[int, int]:
    milliseconds, _, sequence = reply_text(value).partition("-")
    return int(milliseconds), int(sequence or 0)
