"""Rejection counters: how many requests each service refused, per reason and UTC day.

Portal teams read them (admin API) to see what their integration gets wrong: expired
or forged transaction tokens, replayed forms, rate limits. They live in Redis, one hash
per service and day, kept for REJECTION_DAYS_KEPT days. Counting never fails a
request: a Redis error only loses the count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from redis.exceptions import RedisError

from collector import keys
from collector.clock import Clock, wall_clock
from collector.redis_clients import RedisClient

logger = logging.getLogger(__name__)

REJECTION_DAYS_KEPT = 35
# Requests for a service that does not exist are counted here, never under the slug
# they asked for: a scanner must not create one Redis key per made-up name.
UNKNOWN_SERVICE = "-"


def _day(seconds: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(seconds))


class RejectionCounter:
    def __init__(self, redis: RedisClient, clock: Clock = wall_clock) -> None:
        self._redis = redis
        self._clock = clock

    async def count(self, service: str, reason: str) -> None:
        key = keys.rejections(service, _day(self._clock()))
        # Never re-sent (HINCRBY would count twice): a failure loses this one count.
        try:
            async with self._redis.pipeline(transaction=False) as pipeline:
                pipeline.hincrby(key, reason, 1)
                pipeline.expire(key, REJECTION_DAYS_KEPT * 86400)
                pipeline.hincrby(keys.REJECTIONS_TOTAL, reason, 1)
                await pipeline.execute()
        except (RedisError, OSError, RuntimeError) as error:
            # RuntimeError: uvloop's word for a connection the server closed meanwhile.
            logger.debug("rejection not counted (%s/%s): %s", service, reason, error)

    async def read(self, services: Iterable[str], days: int) -> dict[str, dict[str, int]]:
        """Totals per service and reason over the last `days` UTC days (today included)."""
        now = self._clock()  # HGETALL only reads: safe to re-send
        wanted = [
            (service, keys.rejections(service, _day(now - back * 86400)))
            for service in services
            for back in range(days)
        ]
        async with self._redis.pipeline(transaction=False) as pipeline:
            for _, key in wanted:
                pipeline.hgetall(key)
            replies = await pipeline.execute()
        totals: dict[str, dict[str, int]] = {}
        for (service, _), counts in zip(wanted, replies, strict=True):
            for reason, value in counts.items():
                name = reason.decode() if isinstance(reason, bytes) else str(reason)
                per_service = totals.setdefault(service, {})
                per_service[name] = per_service.get(name, 0) + int(value)
        return totals
