"""Analytics API: figures per service from the rollups, in the tenant's local days.

Every endpoint takes an analyst, admin or platform token and sees only the token's
tenant (collector/analyst_scope.py). Comments and exports live in
collector/comments_api.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from collector import figures as compute
from collector.analyst_scope import (
    MAXIMUM_POINTS,
    AnalystScope,
    Period,
    parse_period,
    period_starts,
    point_count,
)
from collector.analytics_messages import (
    Breakdown,
    BreakdownEntry,
    Ranking,
    RankingEntry,
    TimeSeries,
    TimeSeriesPoint,
    figures_body,
)
from collector.errors import BadRequest
from collector.local_days import iso_utc, today
from collector.messages import ServiceSummary, StarCounts
from collector.rankings import (
    DEFAULT_MINIMUM_COUNT,
    SCORE_EXPLAINED,
    agency_contenders,
    rank,
    service_contenders,
)
from collector.runtime import Runtime
from collector.storage.base import DIMENSIONS, EMPTY_FIGURES, Interval

# The pattern documents the form only: parse_day refuses a bad date with its own message.
_DAY = {"pattern": r"^$|^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
FromDay = Annotated[
    str | None,
    QueryParameter(name="from", description="first local day, YYYY-MM-DD", schema_extra=_DAY),
]
ToDay = Annotated[
    str | None,
    QueryParameter(name="to", description="last local day, YYYY-MM-DD", schema_extra=_DAY),
]
# Without a period, a league table covers the last 90 days: a quarter, long enough for
# small services to have ratings, recent enough to act on.
DEFAULT_RANKING_DAYS = 90
_DEFAULT_SERIES_DAYS: dict[str, int] = {"day": 30, "week": 12 * 7, "month": 365}


def _scope(runtime: Runtime, request: Request) -> AnalystScope:  # type: ignore[type-arg]
    return AnalystScope.from_header(runtime, request.headers.get("authorization"))


@get("/api/v1/services/{service:str}/summary", summary="One service's rating summary")
async def service_summary(
    service: FromPath[str],
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    period_from: FromDay = None,
    period_to: ToDay = None,
) -> ServiceSummary:
    """Count, mean, stars, CSAT (share of 4 and 5) with its Wilson lower bound, answers,
    response rate and the newest flushed rating's time, over the tenant's local days.

    Ratings flagged as coming from bots are left out of every figure.
    """
    scope = _scope(runtime, request)
    record = scope.service(service)
    period = parse_period(period_from, period_to)
    figures = await runtime.storage.summary(service, period.first, period.last)
    body = figures_body(figures)
    return ServiceSummary(
        service=service,
        period_from=period.first_text,
        period_to=period.last_text,
        count=figures.count,
        mean=body.mean,
        csat=body.csat,
        stars=StarCounts(*figures.stars),
        newest_rating_at=(
            iso_utc(figures.newest_received_at) if figures.newest_received_at else None
        ),
        answers=figures.answers,
        answered=figures.answered,
        mean_answer_seconds=body.mean_answer_seconds,
        csat_lower_bound=body.csat_lower_bound,
        comments=figures.comments,
        impressions=figures.impressions,
        response_rate=body.response_rate,
        time_zone=scope.time_zone(record.tenant_id),
    )


@get("/api/v1/services/{service:str}/timeseries", summary="Figures per day, week or month")
async def service_time_series(
    service: FromPath[str],
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    interval: Annotated[
        Literal["day", "week", "month"],
        QueryParameter(description="day, ISO week (from Monday) or calendar month"),
    ] = "day",
    period_from: FromDay = None,
    period_to: ToDay = None,
) -> TimeSeries:
    """Every period of the range, those without ratings at 0, in the tenant's zone.
    Without a range: the last 30 days, 12 weeks or 12 months to today."""
    scope = _scope(runtime, request)
    record = scope.service(service)
    zone = scope.time_zone(record.tenant_id)
    period = parse_period(period_from, period_to)
    last = period.last or today(zone, runtime.clock())
    first = period.first or last - timedelta(days=_DEFAULT_SERIES_DAYS[interval] - 1)
    if first > last:
        raise BadRequest("'from' is after 'to'", field="from")
    count = point_count(first, last, interval)
    if count > MAXIMUM_POINTS:
        raise BadRequest(
            f"{count} {interval}s: at most {MAXIMUM_POINTS} points; "
            "choose a shorter range or a longer interval",
            field="interval",
        )
    starts = period_starts(first, last, interval)
    typed_interval: Interval = interval
    found = {
        point.key: point.figures
        for point in await runtime.storage.time_series(service, first, last, typed_interval)
    }
    return TimeSeries(
        service=service,
        interval=interval,
        time_zone=zone,
        period_from=first.isoformat(),
        period_to=last.isoformat(),
        points=[
            TimeSeriesPoint(
                start.isoformat(), figures_body(found.get(start.isoformat(), EMPTY_FIGURES))
            )
            for start in starts
        ],
    )


@get(
    "/api/v1/services/{service:str}/breakdown/{dimension:str}",
    summary="Figures per device, OS, browser, language, channel, office or operator",
)
async def service_breakdown(
    service: FromPath[str],
    dimension: FromPath[str],
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    period_from: FromDay = None,
    period_to: ToDay = None,
) -> Breakdown:
    """One entry per value, most ratings first. Office and operator come from portal
    transaction tokens; ratings without them are not listed there."""
    _scope(runtime, request).service(service)
    if dimension not in DIMENSIONS:
        raise BadRequest(
            f"no dimension {dimension[:40]!r}; use one of {', '.join(DIMENSIONS)}",
            field="dimension",
        )
    period = parse_period(period_from, period_to)
    entries = await runtime.storage.breakdown(service, dimension, period.first, period.last)
    return Breakdown(
        service=service,
        dimension=dimension,
        period_from=period.first_text,
        period_to=period.last_text,
        entries=[BreakdownEntry(entry.key, figures_body(entry.figures)) for entry in entries],
    )


async def _ranking(
    runtime: Runtime,
    request: Request,  # type: ignore[type-arg]
    of: Literal["services", "agencies"],
    period_from: str | None,
    period_to: str | None,
    score: compute.Score,
    minimum_count: int,
    tenant: str | None,
) -> Ranking:
    scope = _scope(runtime, request)
    services = scope.services(tenant)
    period = parse_period(period_from, period_to)
    if period.first is None and period.last is None:
        end = today(scope.home_time_zone, runtime.clock())
        period = Period(end - timedelta(days=DEFAULT_RANKING_DAYS - 1), end)
    totals = await runtime.storage.totals(
        [service.slug for service in services], period.first, period.last
    )
    if of == "services":
        contenders = service_contenders(services, totals)
    else:
        names = {tenant_id: scope.tenant_name(tenant_id) for tenant_id in runtime.tenants}
        contenders = agency_contenders(services, totals, names)
    return Ranking(
        of=of,
        score=score,
        score_explained=SCORE_EXPLAINED[score],
        minimum_count=minimum_count,
        period_from=period.first_text,
        period_to=period.last_text,
        entries=[
            RankingEntry(
                rank=entry.rank,
                key=entry.contender.key,
                name=entry.contender.name,
                tenant=entry.contender.tenant,
                services=entry.contender.services,
                score=entry.score,
                figures=figures_body(entry.contender.figures),
            )
            for entry in rank(contenders, score, minimum_count)
        ],
    )


ScoreParameter = Annotated[
    Literal["wilson", "bayesian"],
    QueryParameter(description="wilson (default) or bayesian; see score_explained"),
]
MinimumCount = Annotated[
    int,
    QueryParameter(ge=1, le=100_000, description="fewer ratings: listed last, unranked"),
]
TenantParameter = Annotated[
    str | None, QueryParameter(description="platform tokens: one tenant (default: all)")
]


@get("/api/v1/rankings/services", summary="League table of the tenant's services")
async def services_ranking(
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    period_from: FromDay = None,
    period_to: ToDay = None,
    score: ScoreParameter = "wilson",
    minimum_count: MinimumCount = DEFAULT_MINIMUM_COUNT,
    tenant: TenantParameter = None,
) -> Ranking:
    """Ranked by a score honest for small samples; without a period, the last 90 days."""
    return await _ranking(
        runtime, request, "services", period_from, period_to, score, minimum_count, tenant
    )


@get("/api/v1/rankings/agencies", summary="League table of agencies")
async def agencies_ranking(
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    period_from: FromDay = None,
    period_to: ToDay = None,
    score: ScoreParameter = "wilson",
    minimum_count: MinimumCount = DEFAULT_MINIMUM_COUNT,
    tenant: TenantParameter = None,
) -> Ranking:
    """Services grouped by their `agency` (or their tenant when it is empty)."""
    return await _ranking(
        runtime, request, "agencies", period_from, period_to, score, minimum_count, tenant
    )


ROUTES = [
    service_summary,
    service_time_series,
    service_breakdown,
    services_ranking,
    agencies_ranking,
]
