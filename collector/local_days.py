"""Local days: a tenant sees its figures by the days of its own time zone; and the
UTC timestamps answers carry."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC_NAME = "UTC"


def is_time_zone(name: str) -> bool:
    """Whether the IANA database knows the name (e.g. Asia/Yerevan)."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _utc_day(milliseconds: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(milliseconds / 1000))


@lru_cache(maxsize=256)
def day_function(time_zone: str) -> Callable[[int], str]:
    """milliseconds since the epoch -> the local day, YYYY-MM-DD."""
    if time_zone == UTC_NAME or not is_time_zone(time_zone):
        return _utc_day
    zone = ZoneInfo(time_zone)

    def local_day(milliseconds: int) -> str:
        return datetime.fromtimestamp(milliseconds / 1000, zone).strftime("%Y-%m-%d")

    return local_day


def day_start(day: date, time_zone: str) -> int:
    """The first millisecond of the local day."""
    zone = ZoneInfo(time_zone) if is_time_zone(time_zone) else ZoneInfo(UTC_NAME)
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)


def day_end(day: date, time_zone: str) -> int:
    """The first millisecond after the local day."""
    return day_start(day + timedelta(days=1), time_zone)


def iso_utc(milliseconds: int) -> str:
    """Milliseconds since the epoch as ISO 8601 in UTC, e.g. 2026-01-01T06:00:00.000Z."""
    seconds, remainder = divmod(milliseconds, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{remainder:03d}Z"


def today(time_zone: str, now: float) -> date:
    """The local day in the zone at `now` (seconds since the epoch, from the clock)."""
    zone = ZoneInfo(time_zone) if is_time_zone(time_zone) else ZoneInfo(UTC_NAME)
    return datetime.fromtimestamp(now, zone).date()
