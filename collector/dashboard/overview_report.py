"""The overview page's figures: a tenant's headline numbers and its league table."""

from __future__ import annotations

from dataclasses import dataclass

from collector.analyst_scope import AnalystScope
from collector.dashboard.periods import ReportPeriod
from collector.figures import DerivedFigures, Score
from collector.rankings import DEFAULT_MINIMUM_COUNT, add_figures, rank, service_contenders
from collector.storage.base import SummaryFigures

SCORE: Score = "wilson"


@dataclass(frozen=True, slots=True)
class LeagueRow(DerivedFigures):
    rank: int | None  # None: too few ratings to rank
    score: float | None
    slug: str
    name: str
    tenant_name: str
    figures: SummaryFigures


@dataclass(frozen=True, slots=True)
class Overview(DerivedFigures):
    heading: str
    tenant: str  # the tenant shown; "" for every tenant (platform tokens)
    tenants: list[tuple[str, str]]  # (id, name) to choose from; platform tokens only
    figures: SummaryFigures  # the services' sums
    rows: list[LeagueRow]
    minimum_count: int

    @property
    def services_rated(self) -> int:
        return sum(1 for row in self.rows if row.figures.count)

    @property
    def every_tenant(self) -> bool:
        return not self.tenant


async def overview_report(scope: AnalystScope, tenant: str, period: ReportPeriod) -> Overview:
    """The services the token may read (of `tenant` if given) over the period."""
    services = scope.services(tenant or None)
    totals = await scope.runtime.storage.totals(
        [service.slug for service in services], period.first, period.last
    )
    ranked = rank(service_contenders(services, totals), SCORE, DEFAULT_MINIMUM_COUNT)
    rows = [
        LeagueRow(
            rank=entry.rank,
            score=entry.score,
            slug=entry.contender.key,
            name=entry.contender.name,
            tenant_name=scope.tenant_name(entry.contender.tenant),
            figures=entry.contender.figures,
        )
        for entry in ranked
    ]
    platform = scope.claims.role == "platform"
    tenants = sorted(
        ((tenant_id, record.name) for tenant_id, record in scope.runtime.tenants.items()),
        key=lambda pair: pair[1].casefold(),
    )
    return Overview(
        heading=scope.tenant_name(tenant) if tenant else "All tenants",
        tenant=tenant,
        tenants=tenants if platform else [],
        figures=add_figures(row.figures for row in rows),
        rows=rows,
        minimum_count=DEFAULT_MINIMUM_COUNT,
    )
