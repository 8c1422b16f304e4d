"""Widget views (impressions), counted per process in memory and pushed to Redis.

A client adds at most one view per service per VIEW_WINDOW_SECONDS: reloading the
form, or a script asking for it in a loop, is no new reader. Counting a view is a
dict lookup on the hot path, keyed by the client's view hash; repeats within one
push are refused there, and so are new pairs beyond NEW_PAIRS_PER_INTERVAL, which
bounds the keys below. About once a second a background task sends the (service,
client) pairs seen since the last push to a Lua script (one per thousand pairs, all
in one pipeline: one round trip), which SET NX EX's a short-lived key per pair, adds
only the new pairs to the views hash, and counts the refused views by reason
(`view_flood`, `view_overflow`) in the rejection counters, once per part even when a
reply is lost (collector/impression_push.py). The impression flusher
(collector/impression_flusher.py) moves the views hash into storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable

from redis.exceptions import RedisError

from collector.client_hash import ClientHasher
from collector.errors import ServiceUnavailable
from collector.impression_push import (
    FIELD_SEPARATOR,
    FLOOD,
    OVERFLOW,
    SCRIPT,
    PushPart,
    Refusal,
    Viewer,
    field_name,
)
from collector.redis_clients import RedisClient
from collector.script_batch import ScriptBatch

__all__ = ["FIELD_SEPARATOR", "FLOOD", "OVERFLOW", "ImpressionCounter", "field_name"]

logger = logging.getLogger(__name__)

PUSH_INTERVAL_SECONDS = 1.0
QUARTER_MILLISECONDS = 900_000
# One view per client, service and this many seconds.
VIEW_WINDOW_SECONDS = 300
# New (service, client) pairs one process admits per push interval; more are refused
# as overflows. Each admitted pair becomes a Redis key for VIEW_WINDOW_SECONDS, in the
# server that holds the rating stream (noeviction), so this bounds that memory: at
# most 500 x 301 + MAXIMUM_PENDING_VIEWS keys per process (docs/analytics.md, with
# bytes). New viewers come only as fast as citizens finish services, and a large
# portal spreads them over many processes: 500 a second (43 million a day) for one
# process leaves a wide margin, so only a flood from very many addresses reaches it.
NEW_PAIRS_PER_INTERVAL = 500
# Pairs held between pushes (or while Redis is down), about 250 bytes each: 5 MB. Only
# an outage of 40 seconds at NEW_PAIRS_PER_INTERVAL reaches it; then the oldest are
# dropped and counted.
MAXIMUM_PENDING_VIEWS = 20_000
PAIRS_PER_SCRIPT = 1000
_FINAL_PUSH_TIMEOUT_SECONDS = 2.0

Quarter = tuple[str, int]  # (service, UTC quarter-hour start in milliseconds)


class ImpressionCounter:
    """Views not yet in Redis, one per (service, client); one counter per process."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        hasher: ClientHasher | None = None,
        push_interval_seconds: float = PUSH_INTERVAL_SECONDS,
        new_pairs_per_interval: int = NEW_PAIRS_PER_INTERVAL,
        maximum_views: int = MAXIMUM_PENDING_VIEWS,
        pairs_per_script: int = PAIRS_PER_SCRIPT,
        window_seconds: int = VIEW_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._script = ScriptBatch(redis, SCRIPT)
        self._pairs_per_script = pairs_per_script
        self._hasher = hasher
        self._interval = push_interval_seconds
        self._new_pairs_per_interval = new_pairs_per_interval
        self._maximum_views = maximum_views
        self._window = window_seconds
        self._clock = clock
        # Each pair's first view since the last push, by its quarter hour's start, in
        # the order seen (OrderedDict: dropping the oldest is O(1)).
        self._views: OrderedDict[Viewer, int] = OrderedDict()
        self._refused: dict[Refusal, int] = {}
        # Parts sent whose reply did not come: sent again, as they are, first.
        self._held: list[PushPart] = []
        self._held_views = 0
        self._push_ids = (f"{os.urandom(8).hex()}-{n}" for n in itertools.count())
        self._admitting_interval = -1
        self._admitted = 0
        self._stopping = asyncio.Event()
        self._failing = False
        self._warned_full = False
        self._warned_new = False
        self.dropped = 0  # views given up: beyond the bounds, or Redis down too long

    def count(self, service: str, client: str) -> None:
        """One view of the service's form by the client (its hash), now. Never waits,
        never fails. A repeat is refused, and so is a new pair beyond the interval's
        admissions; beyond the bound the oldest view waiting is dropped (the newest
        are the ones analysts look at). All are counted."""
        views = self._views
        viewer = (service, client)
        if viewer in views:
            self._refuse(service, FLOOD)
            return
        now = self._clock()
        interval = int(now // self._interval)
        if interval != self._admitting_interval:
            if self._admitted < self._new_pairs_per_interval:
                self._warned_new = False  # the last flood is over: warn of the next
            self._admitting_interval, self._admitted = interval, 0
        if self._admitted >= self._new_pairs_per_interval:
            self._refuse_new(service)
            return
        self._admitted += 1
        if len(views) + self._held_views >= self._maximum_views:
            self._drop_oldest()
        views[viewer] = int(now) // 900 * QUARTER_MILLISECONDS

    def _refuse_new(self, service: str) -> None:
        self.dropped += 1
        self._refuse(service, OVERFLOW)
        if not self._warned_new:
            logger.warning(
                "impressions: refusing new viewers beyond %d per %g s (a flood from many "
                "addresses?)",
                self._new_pairs_per_interval,
                self._interval,
            )
            self._warned_new = True

    def _drop_oldest(self) -> None:
        """Drop the oldest view held or waiting (held parts are older)."""
        self.dropped += 1
        for part in self._held:
            if part.views:
                part.drop_oldest()
                self._held_views -= 1
                break
        else:
            (service, _), _ = self._views.popitem(last=False)
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
        for views in (*(part.views for part in self._held), self._views):
            for (service, _), quarter_start in views.items():
                quarter = (service, quarter_start)
                quarters[quarter] = quarters.get(quarter, 0) + 1
        return quarters

    def refused_waiting(self) -> dict[Refusal, int]:
        """Views refused in memory, per service and reason, not yet counted in Redis."""
        refused: dict[Refusal, int] = {}
        for part_refused in (*(part.refused for part in self._held), self._refused):
            for refusal, number in part_refused.items():
                refused[refusal] = refused.get(refusal, 0) + number
        return refused

    async def push(self) -> bool:
        """Send the views counted so far to Redis in one round trip. False if Redis
        failed: they are kept for the next push."""
        now = self._clock()
        if self._hasher is not None:
            # A no-op but once a day: the next views are hashed with the day's salt.
            with contextlib.suppress(ServiceUnavailable):
                await self._hasher.load_view_salt(now)
        # Swapped out before the first await, so views counted meanwhile go to the new
        # dicts and none is pushed twice or lost. Held parts go first: a pair counted
        # again since then is a flood, as it would have been.
        parts, self._held, self._held_views = self._held, [], 0
        parts += self._new_parts()
        if not parts:
            return True
        # One script per PAIRS_PER_SCRIPT pairs, all in one pipeline: one round trip,
        # and other clients' commands run between the scripts (a script blocks Redis:
        # about 10 ms per thousand pairs, measured here). Each script does all of its
        # part or none, on a Redis Cluster too (a script, not MULTI), and once only:
        # a part sent again after a lost reply returns its first result.
        calls = [part.script_call(self._window, now) for part in parts]
        try:
            replies = await asyncio.gather(
                *(self._script.call(*call) for call in calls), return_exceptions=True
            )
        except BaseException:  # cancelled at shutdown: keep the parts
            self._hold(parts)
            raise
        failed = [
            part
            for part, reply in zip(parts, replies, strict=True)
            if isinstance(reply, BaseException)
        ]
        if failed:
            self._hold(failed)
            error = next(reply for reply in replies if isinstance(reply, BaseException))
            if not isinstance(error, (RedisError, OSError)):
                raise error  # a bug: the views are kept
            if not self._failing:
                logger.warning("impressions: Redis failed, views kept in memory: %s", error)
                self._failing = True
            return False
        if self._failing:
            logger.info("impressions: pushed to Redis again")
            self._failing = False
            self._warned_full = self._warned_new = False
        return True

    def _new_parts(self) -> list[PushPart]:
        """What was counted since the last push, in parts of PAIRS_PER_SCRIPT pairs (the
        refusals go with the first), each with an id of its own."""
        views, self._views = self._views, OrderedDict()
        refused, self._refused = self._refused, {}
        if not views and not refused:
            return []
        items = list(views.items())
        step = self._pairs_per_script
        return [
            PushPart(
                next(self._push_ids),
                OrderedDict(items[start : start + step]),
                refused if start == 0 else {},
            )
            for start in range(0, max(len(items), 1), step)
        ]

    def _hold(self, parts: list[PushPart]) -> None:
        """Keep parts to send again, before any held meanwhile; beyond the bound, drop
        the oldest views."""
        self._held = parts + self._held
        self._held_views = sum(len(part.views) for part in self._held)
        while self._held_views + len(self._views) > self._maximum_views:
            self._drop_oldest()

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
            lost = len(self._views) + self._held_views
            logger.warning("impressions: %d views not pushed to Redis at shutdown", lost)

    def stop(self) -> None:
        """Make run() push what it has and return."""
        self._stopping.set()
