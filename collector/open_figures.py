"""Open figures: the monthly cells a service publishes, small ones withheld.

Suppression, with N the service's `open_data_minimum_count` (default 10):

1. A month with fewer than N ratings publishes no figure, only that it had fewer than N.
2. A month with N ratings or more publishes its count. Its five star counts, mean stars
   and CSAT (share of 4 and 5 stars) are published only when every star count is N or
   more (zero counts as below); otherwise the month shows its count alone.

Rule 2 withholds all or nothing because any partial withholding leaks: the total minus
the shown counts gives the sum of the hidden ones, which pins them down when it is 0,
or (with N = 10) 18 over two cells of at most 9 each; and the exact mean then gives two
hidden counts from two equations.

Cells are whole months only, so no choice of `from` and `to` yields two overlapping
totals whose difference is a small cell.
Closed-question answers are left out: the monthly series has none, and each answer
count would need suppression of its own.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from typing import Annotated

import msgspec

from collector.analyst_scope import month_number, month_start
from collector.errors import BadRequest
from collector.figures import csat, mean_stars, rounded
from collector.runtime import Runtime
from collector.services import Service, Tenant
from collector.storage.base import SummaryFigures

DEFAULT_MONTHS = 24
MAXIMUM_MONTHS = 60
# Ratings carry milliseconds since 1970: no month before it can hold one.
FIRST_YEAR = 1970
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
STAR_NAMES = ("one", "two", "three", "four", "five")


class OpenStarCounts(msgspec.Struct, frozen=True):
    """Ratings per number of stars; null where withheld."""

    one: int | None
    two: int | None
    three: int | None
    four: int | None
    five: int | None


class OpenMonth(msgspec.Struct, frozen=True, kw_only=True):
    """One calendar month; every figure null when it had fewer than minimum_count ratings."""

    month: Annotated[str, msgspec.Meta(description="YYYY-MM, in the tenant's time zone")]
    published: bool
    count: int | None
    mean: Annotated[float, msgspec.Meta(description="mean stars, 1 to 5")] | None
    csat: Annotated[float, msgspec.Meta(description="share of 4 and 5 stars, 0 to 1")] | None
    stars: OpenStarCounts


class Suppression(msgspec.Struct, frozen=True, kw_only=True):
    """How small counts are withheld."""

    minimum_count: int
    rule: str


class OpenData(msgspec.Struct, frozen=True, kw_only=True):
    """GET /open/{service}.json: a service's monthly figures, small counts withheld."""

    service: str
    service_name: str
    tenant: str
    agency: Annotated[str, msgspec.Meta(description="the delivering agency, or the tenant")]
    time_zone: str
    minimum_count: int
    generated_at: str
    period_from: Annotated[str, msgspec.Meta(description="first month, YYYY-MM")]
    period_to: Annotated[str, msgspec.Meta(description="last month, YYYY-MM")]
    suppression: Suppression
    months: list[OpenMonth]


def suppression_rule(minimum_count: int | str) -> str:
    return (
        f"Months with fewer than {minimum_count} ratings publish no figures. The other "
        "months publish their count, and their star counts, mean and CSAT only when every "
        f"star count is at least {minimum_count}: withholding some star counts and not "
        "others would let them be worked out from the total and the mean. The current "
        "month is never published."
    )


def withheld_stars(
    stars: tuple[int, int, int, int, int], minimum_count: int
) -> tuple[int | None, ...]:
    """Star counts with rule 2 of the module docstring applied (None: withheld)."""
    if min(stars) < minimum_count:
        return (None, None, None, None, None)
    return stars


def open_month(month: str, figures: SummaryFigures | None, minimum_count: int) -> OpenMonth:
    if figures is None or figures.count < minimum_count:
        return OpenMonth(
            month=month,
            published=False,
            count=None,
            mean=None,
            csat=None,
            stars=OpenStarCounts(None, None, None, None, None),
        )
    stars = withheld_stars(figures.stars, minimum_count)
    complete = None not in stars
    return OpenMonth(
        month=month,
        published=True,
        count=figures.count,
        mean=rounded(mean_stars(figures)) if complete else None,
        csat=rounded(csat(figures)) if complete else None,
        stars=OpenStarCounts(*stars),
    )


def month_text(month: int) -> str:
    """A month number (year * 12 + month - 1) -> YYYY-MM."""
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def _parse_month(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    match = _MONTH.fullmatch(value)
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < FIRST_YEAR:
        raise BadRequest(
            f"{name!r} must be a month as YYYY-MM from {FIRST_YEAR} on, not {value[:40]!r}",
            field=name,
        )
    return int(match[1]) * 12 + int(match[2]) - 1


def month_range(period_from: str | None, period_to: str | None, local_today: date) -> range:
    """The months asked for; `to` defaults to the last complete month, `from` to 23
    before it."""
    current = month_number(local_today)
    first, last = _parse_month(period_from, "from"), _parse_month(period_to, "to")
    last = current - 1 if last is None else last
    first = last - DEFAULT_MONTHS + 1 if first is None else first
    if last >= current:
        raise BadRequest(f"'to' must be a complete month, before {month_text(current)}", field="to")
    if first > last:
        raise BadRequest("'from' is after 'to'", field="from")
    if last - first >= MAXIMUM_MONTHS:
        raise BadRequest(f"at most {MAXIMUM_MONTHS} months at a time", field="from")
    return range(first, last + 1)


def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


async def monthly_figures(
    runtime: Runtime, service: Service, tenant: Tenant, months: range
) -> OpenData:
    """The figures of the months, from one query of the monthly rollups."""
    minimum = service.config.open_data_minimum_count
    series = await runtime.storage.time_series(
        service.slug,
        month_start(months.start),
        month_start(months.stop) - timedelta(days=1),
        "month",
    )
    by_month = {point.key[:7]: point.figures for point in series}
    return OpenData(
        service=service.slug,
        service_name=service.name,
        tenant=tenant.name,
        agency=service.config.agency or tenant.name,
        time_zone=tenant.time_zone,
        minimum_count=minimum,
        generated_at=_iso_now(),
        period_from=month_text(months.start),
        period_to=month_text(months[-1]),
        suppression=Suppression(minimum_count=minimum, rule=suppression_rule(minimum)),
        months=[open_month(text, by_month.get(text), minimum) for text in map(month_text, months)],
    )
