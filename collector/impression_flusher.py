"""The impression flusher: moves widget views from Redis into storage, exactly once.

A round first stores the batches still pending (left by a crash, an outage or another
flusher), then renames the hash the workers add to into a new pending batch and stores
that. Each batch is stored under its id and only then deleted; storage ignores an id
it has applied before, so a crash in between never counts a batch twice. A storage
outage ends the round before the rename: the views wait in the live hash, and pending
batches do not pile up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from redis.exceptions import RedisError

from collector import keys
from collector.ids import new_rating_id
from collector.impression_counter import FIELD_SEPARATOR, QUARTER_MILLISECONDS
from collector.redis_clients import RedisClient, reply_text
from collector.storage import RecordRejected, Storage, StorageUnavailable

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 10.0
# After failures the wait doubles, at most this many times (10 s -> 40 s).
_MAXIMUM_BACKOFF_DOUBLINGS = 2
_LARGEST_INTEGER = 2**63 - 1  # what storage's integer columns hold
# KEYS: live hash, the new batch's key, the set of pending batch ids; ARGV: batch id.
# RENAMENX: a call retried after a lost reply must not overwrite the batch it made.
_MOVE_LIVE_TO_BATCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('RENAMENX', KEYS[1], KEYS[2]) == 0 then return 0 end
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""

ImpressionCount = tuple[str, int, int]  # (service, quarter_start milliseconds, views)


@dataclass(slots=True)
class ImpressionFlushStatistics:
    batches: int = 0  # stored by this flusher
    repeated: int = 0  # already applied (a crash between storing and deleting)
    views: int = 0
    malformed: int = 0  # fields skipped


def parse_field(name: bytes | str, value: bytes | str) -> ImpressionCount | None:
    """One "service|quarter_start" -> views field, or None if it is not one."""
    try:
        service, separator, quarter_text = reply_text(name).rpartition(FIELD_SEPARATOR)
        views_text = reply_text(value)
    except UnicodeDecodeError:
        return None
    # isdigit() alone accepts other scripts' digits; int() alone accepts "1_0" and " 1".
    if not (separator and service and _is_number(quarter_text) and _is_number(views_text)):
        return None
    quarter_start, views = int(quarter_text), int(views_text)
    if quarter_start % QUARTER_MILLISECONDS or quarter_start > _LARGEST_INTEGER:
        return None
    if not 0 < views <= _LARGEST_INTEGER:
        return None
    return service, quarter_start, views


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


class ImpressionFlusher:
    """Runs in the process that runs the rating flusher; several may run at once."""

    def __init__(
        self,
        redis: RedisClient,
        storage: Storage,
        *,
        interval_seconds: float = FLUSH_INTERVAL_SECONDS,
    ) -> None:
        self._redis = redis
        self._storage = storage
        self._interval = interval_seconds
        self._stop = asyncio.Event()
        self._move = redis.register_script(_MOVE_LIVE_TO_BATCH)
        self.statistics = ImpressionFlushStatistics()

    def stop(self) -> None:
        """Finish the batch in hand, then return from run()."""
        self._stop.set()

    async def run(self) -> None:
        """A round now and then every interval until stop(); survives outages."""
        failures = 0
        while not self._stop.is_set():
            try:
                await self.run_once()
                failures = 0
            except StorageUnavailable as error:
                failures = min(failures + 1, _MAXIMUM_BACKOFF_DOUBLINGS)
                logger.warning("impressions: storage unavailable, views kept in Redis: %s", error)
            except (RedisError, OSError) as error:
                failures = min(failures + 1, _MAXIMUM_BACKOFF_DOUBLINGS)
                logger.warning("impressions: Redis error, retrying later: %s", error)
            except Exception:
                failures = min(failures + 1, _MAXIMUM_BACKOFF_DOUBLINGS)
                logger.exception("impressions: unexpected error, batches kept in Redis")
            await self._sleep(self._interval * 2**failures)
        logger.info("impression flusher stopped: %s", self.statistics)

    async def run_once(self) -> int:
        """Store the pending batches, then the views added since the last round.

        Returns the views stored. Raises StorageUnavailable, or a Redis error, with
        every batch not stored still pending in Redis.
        """
        # Never re-sent by the client; after an error the next round starts again from
        # the pending set. SMEMBERS and HGETALL read, the move is safe to run twice
        # (RENAMENX), DEL and SREM remove nothing more, and storage applies a batch id
        # once.
        stored = 0
        members = await self._redis.smembers(keys.IMPRESSION_BATCHES)
        # UUIDv7 text sorts by time: the oldest batch first.
        for batch_id in sorted(reply_text(member) for member in members):
            if self._stop.is_set():
                return stored
            stored += await self._store_kept_if_refused(batch_id)
        if self._stop.is_set():
            return stored
        # Made here: storage records the same id, and Lua has no good source of them.
        batch_id = new_rating_id()
        batch_keys = [keys.IMPRESSIONS, keys.impression_batch(batch_id), keys.IMPRESSION_BATCHES]
        if await self._move(keys=batch_keys, args=[batch_id]):
            stored += await self._store_kept_if_refused(batch_id)
        return stored

    async def _store_kept_if_refused(self, batch_id: str) -> int:
        try:
            return await self.store_batch(batch_id)
        except RecordRejected as error:
            # Not an outage: other batches can still go. This one waits for a person.
            logger.error(
                "impressions: storage refused batch %s, kept in Redis: %s", batch_id, error
            )
            return 0

    async def store_batch(self, batch_id: str) -> int:
        """Store one pending batch under its id, then delete it; returns new views."""
        batch_key = keys.impression_batch(batch_id)
        fields = await self._redis.hgetall(batch_key)
        counts: list[ImpressionCount] = []
        for name, value in fields.items():
            parsed = parse_field(name, value)
            if parsed is None:
                # The field and value are in the log: they are not lost without a trace.
                logger.warning(
                    "impressions: batch %s: malformed field %r = %r", batch_id, name, value
                )
                self.statistics.malformed += 1
            else:
                counts.append(parsed)
        applied = bool(counts) and await self._storage.store_impressions(batch_id, counts)
        # In this order, and no MULTI needed (none on a Redis Cluster): a crash between
        # the two leaves an id without fields, which the next round drops as empty.
        async with self._redis.pipeline(transaction=False) as pipeline:
            pipeline.delete(batch_key)
            pipeline.srem(keys.IMPRESSION_BATCHES, batch_id)
            await pipeline.execute()
        if not applied:
            if counts:
                self.statistics.repeated += 1
                logger.info("impressions: batch %s was already stored", batch_id)
            return 0
        views = sum(views for _, _, views in counts)
        self.statistics.batches += 1
        self.statistics.views += views
        return views

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
