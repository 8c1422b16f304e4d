"""Helpers for the impression tests: a settable clock, the widget with a counter, and
what Redis holds."""

from __future__ import annotations

import itertools
from typing import Any, cast

import httpx

from collector import keys
from collector.app import create_widget
from collector.impression_counter import ImpressionCounter
from collector.redis_clients import RedisClient, reply_text
from collector.runtime import Runtime
from tests.helpers import DAY_ONE

NOON = DAY_ONE // 1000 + 12 * 3600  # 2026-01-01T12:00:00Z in seconds
NOON_QUARTER = NOON * 1000
QUARTER = 900_000
_viewers = itertools.count(1)


def viewer() -> str:
    """A client hash not seen before: each call is another client's view."""
    return f"viewer-{next(_viewers)}"


class Clock:
    """time.time() for a counter, at a time the test sets."""

    def __init__(self, seconds: float = NOON) -> None:
        self.seconds = seconds

    def __call__(self) -> float:
        return self.seconds


def counting_widget(
    runtime: Runtime, counter: ImpressionCounter, address: str = "203.0.113.7"
) -> httpx.AsyncClient:
    """A client of the widget (/w/...) built as create_app builds it, counting views,
    from one address."""
    widget = create_widget(runtime, counter)
    transport = httpx.ASGITransport(app=cast(Any, widget), client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://collector.test")


async def live_views(redis: RedisClient) -> dict[str, int]:
    """The hash the counters push to, as text fields and numbers."""
    fields = await redis.hgetall(keys.IMPRESSIONS)
    return {reply_text(name): int(value) for name, value in fields.items()}
