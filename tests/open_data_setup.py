"""Setting up the open-data tests: an opted-in service, ratings per star, expected months."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from collector.runtime import Runtime
from collector.services import Service, ServiceConfig
from tests.helpers import stored_rating

_numbers = itertools.count(1)


async def open_service(
    runtime: Runtime,
    *,
    slug: str = "svc",
    open_data: bool = True,
    minimum_count: int = 10,
    name: str = "Parking permits",
    agency: str = "",
    time_zone: str | None = None,
) -> None:
    await runtime.storage.save_tenant("city", "City Hall")
    if time_zone is not None:
        # Before any rating is stored: the rollups' days are the tenant's local days.
        assert await runtime.storage.set_tenant_time_zone("city", time_zone)
    config = ServiceConfig(
        open_data=open_data, open_data_minimum_count=minimum_count, agency=agency
    )
    await runtime.storage.save_service(
        Service(slug=slug, tenant_id="city", name=name, config=config)
    )
    await runtime.reload_services()


def utc(text: str) -> int:
    """An ISO time in UTC -> milliseconds since the epoch."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


async def rate(runtime: Runtime, received_at: int, *per_star: int) -> None:
    """Store per_star[0] one-star ratings, per_star[1] two-star ones, and so on."""
    ratings = [
        stored_rating(next(_numbers), stars=stars, received_at=received_at)
        for stars, count in enumerate(per_star, start=1)
        for _ in range(count)
    ]
    assert await runtime.storage.store(ratings) == len(ratings)


def hidden_month(month: str) -> dict[str, object]:
    figures = dict.fromkeys(("count", "mean", "csat"))
    stars = dict.fromkeys(("one", "two", "three", "four", "five"))
    return {"month": month, "published": False, **figures, "stars": stars}


RULE_5 = (
    "Months with fewer than 5 ratings publish no figures. The other months publish their "
    "count, and their star counts, mean and CSAT only when every star count is at least 5: "
    "withholding some star counts and not others would let them be worked out from the "
    "total and the mean. The current month is never published."
)
NO_STARS = dict.fromkeys(("one", "two", "three", "four", "five"))


def count_only(month: str, count: int) -> dict[str, object]:
    """A published month whose details are withheld: its count and nothing else."""
    figures = {"count": count, "mean": None, "csat": None}
    return {"month": month, "published": True, **figures, "stars": NO_STARS}
