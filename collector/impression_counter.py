"""Widget views (impressions), counted per process in memory and pushed to Redis.

A client adds at most one view per service per VIEW_WINDOW_SECONDS: reloading the
form, or a script asking for it in a loop, is no new reader. Counting a view is a
dict lookup on the hot path, keyed by the client's view hash; repeats within one
push are refused there. About once a second a background task sends the (service,
client) pairs seen since the last push to a Lua script (one per thousand pairs, all
in one pipeline: one round trip, as before), which SET NX EX's a short-lived key per
pair, adds only the new pairs to the views hash, and counts the refused views by
reason (`view_flood`, `view_overflow`) in the rejection counters. The impression flusher
(collector/impression_flusher.py) moves the views hash into storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from redis.exceptions import RedisError

from collector import keys
from collector.client_hash import ClientHasher
from collector.errors import ServiceUnavailable
from collector.redis_clients import RedisClient
from collector.rejections import REJECTION_DAYS_KEPT
from collector.script_batch import ScriptBatch

logger = logging.getLogger(__name__)

PUSH_INTERVAL_SECONDS = 1.0
QUARTER_MILLISECONDS = 900_000
# One view per client, service and this many seconds.
VIEW_WINDOW_SECONDS = 300
# Pairs held between pushes (or while Redis is down), about 250 bytes each: 5 MB. A
# worker shows a few thousand forms a second at most, so only a flood from very many
# addresses, or a long outage, reaches it; then the oldest are dropped and counted.
MAXIMUM_PENDING_VIEWS = 20_000
PAIRS_PER_SCRIPT = 1000
FLOOD = "view_flood"  # the same client again within the window
OVERFLOW = "view_overflow"  # dropped beyond MAXIMUM_PENDING_VIEWS
FIELD_SEPARATOR = "|"
_FINAL_PUSH_TIMEOUT_SECONDS = 2.0
# KEYS: the views hash, the rejection totals, each service's rejection hash for the
# day, then one key per (service, client) pair.
# ARGV: window, rejections' TTL, the number of services S, then per service its
# refusals counted in memory (floods, overflows), then per pair its views-hash field
# and its service's number (1..S).
_ADD_VIEWS = """
local services = tonumber(ARGV[3])
local flood, overflow = {}, {}
for s = 1, services do
  flood[s] = tonumber(ARGV[2 + 2 * s])
  overflow[s] = tonumber(ARGV[3 + 2 * s])
end
local first_pair_key = 3 + services
local counts = {}
local admitted = 0
for k = first_pair_key, #KEYS do
  local at = 4 + 2 * services + 2 * (k - first_pair_key)
  if redis.call('SET', KEYS[k], '1', 'NX', 'EX', ARGV[1]) then
    counts[ARGV[at]] = (counts[ARGV[at]] or 0) + 1
    admitted = admitted + 1
  else
    local s = tonumber(ARGV[at + 1])
    flood[s] = flood[s] + 1
  end
end
for field, views in pairs(counts) do
  redis.call('HINCRBY', KEYS[1], field, views)
end
local refused = 0
for s = 1, services do
  for reason, number in pairs({view_flood = flood[s], view_overflow = overflow[s]}) do
    if number > 0 then
      redis.call('HINCRBY', KEYS[2 + s], reason, number)
      redis.call('HINCRBY', KEYS[2], reason, number)
      refused = refused + number
    end
  end
  if flood[s] + overflow[s] > 0 then
    redis.call('EXPIRE', KEYS[2 + s], ARGV[2])
  end
end
return {admitted, refused}
"""

Quarter = tuple[str, int]  # (service, UTC quarter-hour start in milliseconds)
Viewer = tuple[str, str]  # (service, client hash)
Refusal = tuple[str, str]  # (service, reason)


def field_name(service: str, quarter_start: int) -> str:
    """The Redis hash field of one service and quarter hour."""
    return f"{service}{FIELD_SEPARATOR}{quarter_start}"


class ImpressionCounter:
    """Views not yet in Redis, one per (service, client); one counter per process."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        hasher: ClientHasher | None = None,
        push_interval_seconds: float = PUSH_INTERVAL_SECONDS,
        maximum_views: int = MAXIMUM_PENDING_VIEWS,
        pairs_per_script: int = PAIRS_PER_SCRIPT,
        window_seconds: int = VIEW_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._script = ScriptBatch(redis, _ADD_VIEWS)
        self._pairs_per_script = pairs_per_script
        self._hasher = hasher
        self._interval = push_interval_seconds
        self._maximum_views = maximum_views
        self._window = window_seconds
        self._clock = clock
        # Each pair's first view since the last push, by its quarter hour's start, in
        # the order seen (OrderedDict: dropping the oldest is O(1)).
        self._views: OrderedDict[Viewer, int] = OrderedDict()
        self._refused: dict[Refusal, int] = {}
        self._stopping = asyncio.Event()
        self._failing = False
        self._warned_full = False
        self.dropped = 0  # views given up: beyond the bound, or Redis down too long

    def count(self, service: str, client: str) -> None:
        """One view of the service's form by the client (its hash), now. Never waits,
        never fails. A repeat is refused; beyond the bound the oldest view waiting
        is dropped (the newest are the ones analysts look at). Both are counted."""
        views = self._views
        viewer = (service, client)
        if viewer in views:
            self._refuse(service, FLOOD)
            return
        if len(views) >= self._maximum_views:
            self._drop_oldest(views)
        views[viewer] = int(self._clock()) // 900 * QUARTER_MILLISECONDS

    def _drop_oldest(self, views: OrderedDict[Viewer, int]) -> None:
        (service, _), _ = views.popitem(last=False)
        self.dropped += 1
        self._refuse(service, OVERFLOW)
        if not self._warned_full:
            logger.warning(
                "impressions: dropping the oldest views beyond %d (Redis down too long, "
                "or new clients faster than pushes)",
                self._maximum_views,
            )
            self._warned_full = True

    def _refuse(self, service: str, reason: str, number: int = 1) -> None:
        refusal = (service, reason)
        self._refused[refusal] = self._refused.get(refusal, 0) + number

    def waiting(self) -> dict[Quarter, int]:
        """The views counted but not yet in Redis, per service and quarter hour (Redis
        may still refuse some, as repeats of views pushed before)."""
        quarters: dict[Quarter, int] = {}
        for (service, _), quarter_start in self._views.items():
            quarter = (service, quarter_start)
            quarters[quarter] = quarters.get(quarter, 0) + 1
        return quarters

    def refused_waiting(self) -> dict[Refusal, int]:
        """Views refused in memory, per service and reason, not yet counted in Redis."""
        return dict(self._refused)

    async def push(self) -> bool:
        """Send the views counted so far to Redis in one round trip. False if Redis
        failed: they are kept for the next push."""
        if self._hasher is not None:
            # A no-op but once a day: the next views are hashed with the day's salt.
            with contextlib.suppress(ServiceUnavailable):
                await self._hasher.load_view_salt(self._clock())
        # Swapped out before the first await, so views counted meanwhile go to the new
        # dicts and none is pushed twice or lost.
        views, self._views = self._views, OrderedDict()
        refused, self._refused = self._refused, {}
        if not views and not refused:
            return True
        # One script per PAIRS_PER_SCRIPT pairs, all in one pipeline: one round trip,
        # and other clients' commands run between the scripts (a script blocks Redis:
        # about 10 ms per thousand pairs, measured here). Each script does all of its
        # part or none, on a Redis Cluster too (a script, not MULTI). A reply lost
        # after a script ran sends its pairs again: their keys are set, so they count
        # as floods, never as views twice.
        items = list(views.items())
        step = self._pairs_per_script
        parts = [
            (OrderedDict(items[start : start + step]), refused if start == 0 else {})
            for start in range(0, max(len(items), 1), step)
        ]
        try:
            replies = await asyncio.gather(
                *(self._script.call(*self._script_call(*part)) for part in parts),
                return_exceptions=True,
            )
        except BaseException:  # cancelled at shutdown: keep the views
            self._keep(views, refused)
            raise
        failed_views: OrderedDict[Viewer, int] = OrderedDict()
        failed_refusals: dict[Refusal, int] = {}
        error: BaseException | None = None
        for (part_views, part_refused), reply in zip(parts, replies, strict=True):
            if isinstance(reply, BaseException):
                error = reply
                failed_views.update(part_views)
                failed_refusals.update(part_refused)
        if error is not None:
            self._keep(failed_views, failed_refusals)
            if not isinstance(error, (RedisError, OSError)):
                raise error  # a bug: the views are kept
            if not self._failing:
                logger.warning("impressions: Redis failed, views kept in memory: %s", error)
                self._failing = True
            return False
        if self._failing:
            logger.info("impressions: pushed to Redis again")
            self._failing = False
            self._warned_full = False
        return True

    def _script_call(
        self, views: OrderedDict[Viewer, int], refused: dict[Refusal, int]
    ) -> tuple[list[str], list[str | int]]:
        day = time.strftime("%Y-%m-%d", time.gmtime(self._clock()))
        numbers: dict[str, int] = {}
        for service, _ in (*views, *refused):
            numbers.setdefault(service, len(numbers) + 1)
        script_keys = [keys.IMPRESSIONS, keys.REJECTIONS_TOTAL]
        script_keys += [keys.rejections(service, day) for service in numbers]
        arguments: list[str | int] = [self._window, REJECTION_DAYS_KEPT * 86400, len(numbers)]
        for service in numbers:
            arguments += [refused.get((service, FLOOD), 0), refused.get((service, OVERFLOW), 0)]
        for (service, client), quarter_start in views.items():
            script_keys.append(keys.view(service, client))
            arguments += [field_name(service, quarter_start), numbers[service]]
        return script_keys, arguments

    def _keep(self, views: OrderedDict[Viewer, int], refused: dict[Refusal, int]) -> None:
        """Merge what could not be pushed back in, older views first; beyond the
        bound, drop the oldest."""
        for viewer, quarter_start in self._views.items():
            if viewer in views:  # seen again while the push failed: a repeat
                self._refuse(viewer[0], FLOOD)
            else:
                views[viewer] = quarter_start
        self._views = views
        for (service, reason), number in refused.items():
            self._refuse(service, reason, number)
        while len(views) > self._maximum_views:
            self._drop_oldest(views)

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
            lost = len(self._views)
            logger.warning("impressions: %d views not pushed to Redis at shutdown", lost)

    def stop(self) -> None:
        """Make run() push what it has and return."""
        self._stopping.set()
