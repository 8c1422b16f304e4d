"""What every backend's rollups share: which dimensions live where, and each rating's
local day (the tenant's), computed in Python so both backends agree to the day."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import msgspec

from collector.local_days import UTC_NAME, day_end, day_function, day_start
from collector.messages import StoredRating

# Kept in dimension_days; device, language and channel are read from the cube
# (daily_rollups), which has them already: one upsert fewer per batch.
DIMENSION_DAYS = ("os", "browser", "office", "operator")
CUBE_DIMENSIONS = ("device", "language", "channel")

_QUARTER_MILLISECONDS = 900_000
_DAY_MILLISECONDS = 86_400_000
_ANSWERS_ENCODER = msgspec.json.Encoder()


def rating_values(rating: StoredRating) -> tuple[object, ...]:
    """A rating's values in the order of the ratings table's columns (both backends)."""
    r = rating
    return (
        r.id,
        r.service,
        r.rating,
        r.comment,
        r.language,
        r.channel,
        r.received_at,
        r.device_class,
        r.os_family,
        r.browser_family,
        r.is_bot,
        _ANSWERS_ENCODER.encode(r.answers).decode(),
        r.transaction or None,
        r.office,
        r.operator,
        r.answer_seconds,
    )


def with_local_days(
    rows: Sequence[tuple[object, ...]], zones: dict[str, str]
) -> list[tuple[object, ...]]:
    """Append each row's local day (service at index 1, received_at at index 6)."""
    # A batch spans a few quarter hours, and every zone's day starts on one: one
    # conversion per zone and quarter instead of one per row (2.7 us each).
    days: dict[tuple[str, int], str] = {}
    result = []
    for row in rows:
        zone = zones.get(str(row[1]), UTC_NAME)
        received_at = int(row[6])  # type: ignore[call-overload]
        key = (zone, received_at // _QUARTER_MILLISECONDS)
        day = days.get(key)
        if day is None:
            day = days[key] = day_function(zone)(received_at)
        result.append((*row, day))
    return result


def views_per_day(quarters: dict[int, int], zone: str, days: set[str]) -> dict[str, int]:
    """Widget views per local day, of these days only, from views per UTC quarter hour."""
    local_day = day_function(zone)
    views: dict[str, int] = {}
    for quarter_start, count in quarters.items():
        day = local_day(quarter_start)
        if day in days:
            views[day] = views.get(day, 0) + count
    return views


def rebuild_ranges(days: Iterable[str], zone: str) -> list[tuple[int, int]]:
    """Per local day, [start, end) in milliseconds holding all of it, a day wider on each
    side: the caller keeps the rows whose computed day is one of `days`, so both backends
    count them on exactly the day the flusher did, whatever the zone's clock changes."""
    ranges = []
    for day in sorted(days):
        local = date.fromisoformat(day)
        start, end = day_start(local, zone), day_end(local, zone)
        ranges.append((start - _DAY_MILLISECONDS, end + _DAY_MILLISECONDS))
    return ranges
