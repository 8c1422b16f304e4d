"""The period a dashboard page shows: its days, the trend's interval, the preset links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from collector.analyst_scope import (
    FIRST_DAY,
    Period,
    month_number,
    month_start,
    parse_period,
    period_starts,
)
from collector.errors import BadRequest
from collector.local_days import today
from collector.storage.base import Interval

DEFAULT_DAYS = 30
# A year ahead lets a bookmark of "this year" work all year.
LATEST_DAYS_AHEAD = 366
# Beyond this a page would read years of rollups to draw one blurry chart.
LONGEST_DAYS = 10 * 366
# Up to two months a day is still a readable column; up to half a year, a week.
DAILY_UP_TO_DAYS = 62
WEEKLY_UP_TO_DAYS = 190


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """Whole local days, both ends included, and how the trend groups them."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def interval(self) -> Interval:
        if self.days <= DAILY_UP_TO_DAYS:
            return "day"
        if self.days <= WEEKLY_UP_TO_DAYS:
            return "week"
        return "month"

    @property
    def as_period(self) -> Period:
        return Period(self.first, self.last)

    def starts(self) -> list[date]:
        """The first day of every interval the period touches, gaps included."""
        return period_starts(self.first, self.last, self.interval)


def choose_period(first: str | None, last: str | None, time_zone: str, now: float) -> ReportPeriod:
    """The period asked for in the query; an open end is filled from the default
    (the last 30 local days to `now`). BadRequest names the field at fault."""
    asked = parse_period(first, last)
    # Read once: the bound and the default must agree at midnight.
    local_today = today(time_zone, now)
    latest = local_today + timedelta(days=LATEST_DAYS_AHEAD)
    for day, name in ((asked.first, "from"), (asked.last, "to")):
        if day is not None and not FIRST_DAY <= day <= latest:
            raise BadRequest(
                f"{name!r} must lie between {FIRST_DAY.isoformat()} and {latest.isoformat()}",
                field=name,
            )
    end = asked.last or local_today
    start = asked.first or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise BadRequest("'from' is after 'to'", field="from")
    period = ReportPeriod(start, end)
    if period.days > LONGEST_DAYS:
        raise BadRequest("'from' is more than ten years before 'to'", field="from")
    return period


@dataclass(frozen=True, slots=True)
class Preset:
    label: str
    period: ReportPeriod


def presets(time_zone: str, now: float) -> list[Preset]:
    """Quick choices ending today (at `now`); twelve months start on a month's first
    day, so the trend has no partial month at its start."""
    end = today(time_zone, now)
    return [
        Preset("Last 7 days", ReportPeriod(end - timedelta(days=6), end)),
        Preset("Last 30 days", ReportPeriod(end - timedelta(days=DEFAULT_DAYS - 1), end)),
        Preset("Last 12 months", ReportPeriod(month_start(month_number(end) - 11), end)),
    ]


def axis_labels(starts: list[date], interval: Interval, step: int) -> list[str]:
    """The periods' short names under a chart's columns, of which every step-th is
    shown; a month names its year only where the shown year changes, so that the
    labels fit on a phone."""
    if interval != "month":
        return [f"{start.day} {start.strftime('%b')}" for start in starts]
    return [
        start.strftime("%b %Y" if index < step or start.year != starts[index - step].year else "%b")
        for index, start in enumerate(starts)
    ]


def period_name(start: date, interval: Interval) -> str:
    """A period's full name in tables and tooltips."""
    if interval == "day":
        return start.isoformat()
    if interval == "week":
        return f"week of {start.isoformat()}"
    return start.strftime("%B %Y")
