"""Widget views (impressions), counted per process in memory and pushed to Redis.

Counting a view is one dict increment on the hot path. About once a second a background
task adds what was counted to one Redis hash, all fields in one round trip; the
impression flusher (collector/impression_flusher.py) moves that hash into storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from collector import keys
from collector.redis_clients import RedisClient

logger = logging.getLogger(__name__)

PUSH_INTERVAL_SECONDS = 1.0
QUARTER_MILLISECONDS = 900_000
# Fields kept while Redis is down: one per service and quarter hour, so 10,000 is 100
# services for a day (or a few services for months), about a megabyte of memory.
MAXIMUM_FIELDS = 10_000
FIELD_SEPARATOR = "|"
_FINAL_PUSH_TIMEOUT_SECONDS = 2.0
# KEYS: the live hash; ARGV: field, views, field, views, ...
_ADD_VIEWS = """
for i = 1, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
"""

Quarter = tuple[str, int]  # (service, UTC quarter-hour start in milliseconds)


def field_name(service: str, quarter_start: int) -> str:
    """The Redis hash field of one service and quarter hour."""
    return f"{service}{FIELD_SEPARATOR}{quarter_start}"


class ImpressionCounter:
    """Views per service and quarter hour not yet in Redis; one per serving process."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        push_interval_seconds: float = PUSH_INTERVAL_SECONDS,
        maximum_fields: int = MAXIMUM_FIELDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._add = redis.register_script(_ADD_VIEWS)
        self._interval = push_interval_seconds
        self._maximum_fields = maximum_fields
        self._clock = clock
        self._counts: dict[Quarter, int] = {}
        self._stopping = asyncio.Event()
        self._failing = False
        self._warned_full = False
        self.dropped = 0  # views given up because Redis stayed down too long

    def count(self, service: str) -> None:
        """One view of the service's form, now. Never waits, never fails."""
        quarter = (service, int(self._clock()) // 900 * QUARTER_MILLISECONDS)
        counts = self._counts
        counts[quarter] = counts.get(quarter, 0) + 1

    def waiting(self) -> dict[Quarter, int]:
        """A copy of the views counted but not yet in Redis."""
        return dict(self._counts)

    async def push(self) -> bool:
        """Add the views counted so far to Redis in one round trip. False if Redis
        failed: the views are kept for the next push."""
        # Swapped out before the first await, so views counted meanwhile go to the new
        # dict and none is pushed twice or lost.
        counts, self._counts = self._counts, {}
        if not counts:
            return True
        try:
            # One script: all fields are added or none (a script, not MULTI, as that
            # works on a Redis Cluster too). The client never re-sends it
            # (collector/redis_clients.py); the one way to count twice is a reply lost
            # after it ran (then the views are pushed again): rare, and views are a
            # rate's denominator, not records anyone is owed.
            arguments: list[str | int] = []
            for (service, quarter_start), views in counts.items():
                arguments += [field_name(service, quarter_start), views]
            await self._add(keys=[keys.IMPRESSIONS], args=arguments)
        except (RedisError, OSError) as error:
            self._keep(counts)
            if not self._failing:
                logger.warning("impressions: Redis failed, views kept in memory: %s", error)
                self._failing = True
            return False
        except BaseException:  # cancelled at shutdown, or a bug: keep the views
            self._keep(counts)
            raise
        if self._failing:
            logger.info("impressions: pushed to Redis again")
            self._failing = False
            self._warned_full = False
        return True

    def _keep(self, counts: dict[Quarter, int]) -> None:
        """Merge views that could not be pushed back in; beyond the maximum number of
        fields, drop the oldest quarters (the newest are the ones analysts look at)."""
        current = self._counts
        for quarter, views in counts.items():
            current[quarter] = current.get(quarter, 0) + views
        excess = len(current) - self._maximum_fields
        if excess <= 0:
            return
        for quarter in sorted(current, key=lambda item: item[1])[:excess]:
            self.dropped += current.pop(quarter)
        if not self._warned_full:
            logger.warning(
                "impressions: Redis down too long; dropping the oldest views beyond %d "
                "service quarter hours",
                self._maximum_fields,
            )
            self._warned_full = True

    async def run(self) -> None:
        """Push every interval until stop(); then push once more, briefly."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            if self._stopping.is_set():
                break
            try:
                await self.push()
            except Exception:  # never stop counting over a bug; the views are kept
                logger.exception("impressions: unexpected error while pushing")
        pushed = False
        try:
            async with asyncio.timeout(_FINAL_PUSH_TIMEOUT_SECONDS):
                pushed = await self.push()
        except TimeoutError:
            pass  # said below
        except Exception:
            logger.exception("impressions: unexpected error in the last push")
        if not pushed:
            lost = sum(self._counts.values())
            logger.warning("impressions: %d views not pushed to Redis at shutdown", lost)

    def stop(self) -> None:
        """Make run() push what it has and return."""
        self._stopping.set()
