"""Analytics API: figures per service, read from the rollups, for tenant-scoped tokens."""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from collector.errors import BadRequest, NotFound
from collector.messages import ServiceSummary, StarCounts
from collector.runtime import Runtime


def _iso_utc(milliseconds: int | None) -> str | None:
    if milliseconds is None:
        return None
    seconds, remainder = divmod(milliseconds, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{remainder:03d}Z"


def _day(value: str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"{name!r} must be a date as YYYY-MM-DD, not {value[:40]!r}", field=name
        ) from None


@get("/api/v1/services/{service:str}/summary", summary="One service's rating summary")
async def service_summary(
    service: FromPath[str],
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    period_from: Annotated[
        str | None, QueryParameter(name="from", description="first UTC day, YYYY-MM-DD")
    ] = None,
    period_to: Annotated[
        str | None, QueryParameter(name="to", description="last UTC day, YYYY-MM-DD")
    ] = None,
) -> ServiceSummary:
    """Count, mean, stars, CSAT (share of 4 and 5) and the newest flushed rating's time.

    Ratings flagged as coming from bots are left out of every figure.
    """
    claims = runtime.analyst_tokens.verify_header(request.headers.get("authorization"))
    record = runtime.services.get(service)
    # Another tenant's service answers exactly like a missing one.
    if record is None or not claims.may_read(record.tenant_id):
        raise NotFound(f"no service {service!r} in your tenant", field="service")
    first_day, last_day = _day(period_from, "from"), _day(period_to, "to")
    if first_day and last_day and first_day > last_day:
        raise BadRequest("'from' is after 'to'", field="from")
    figures = await runtime.storage.summary(service, first_day, last_day)
    stars = figures.stars
    weighted = sum(star * count for star, count in zip(range(1, 6), stars, strict=True))
    return ServiceSummary(
        service=service,
        period_from=first_day.isoformat() if first_day else None,
        period_to=last_day.isoformat() if last_day else None,
        count=figures.count,
        mean=round(weighted / figures.count, 4) if figures.count else None,
        csat=round((stars[3] + stars[4]) / figures.count, 4) if figures.count else None,
        stars=StarCounts(*stars),
        newest_rating_at=_iso_utc(figures.newest_received_at),
        answers=figures.answers,
        answered=figures.answered,
        mean_answer_seconds=round(figures.answer_seconds_sum / figures.answered, 1)
        if figures.answered
        else None,
    )
