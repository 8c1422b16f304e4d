"""League tables of services and of agencies, ranked by a score that is honest for
small samples (collector/figures.py explains both scores)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from collector import figures as compute
from collector.services import Service
from collector.storage.base import EMPTY_FIGURES, SummaryFigures

# Below this many ratings a row is listed, unranked, after the ranked ones: even an
# honest score says little about three ratings.
DEFAULT_MINIMUM_COUNT = 10


SCORE_EXPLAINED = {
    "wilson": "lower bound of the 95% Wilson score interval of the share of 4 and 5 star ratings",
    "bayesian": f"mean stars after adding {compute.BAYESIAN_PRIOR_WEIGHT} ratings at the "
    "table's overall mean",
}


@dataclass(frozen=True, slots=True)
class Contender:
    key: str  # service slug, or agency name
    name: str
    tenant: str
    services: int
    figures: SummaryFigures


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int | None  # None: too few ratings to rank
    score: float | None
    contender: Contender


def add_figures(parts: Iterable[SummaryFigures]) -> SummaryFigures:
    """The sums of several services' figures (answers left out)."""
    total = EMPTY_FIGURES
    for part in parts:
        newest = [at for at in (total.newest_received_at, part.newest_received_at) if at]
        total = SummaryFigures(
            count=total.count + part.count,
            stars=tuple(a + b for a, b in zip(total.stars, part.stars, strict=True)),  # type: ignore[arg-type]
            newest_received_at=max(newest) if newest else None,
            answered=total.answered + part.answered,
            answer_seconds_sum=total.answer_seconds_sum + part.answer_seconds_sum,
            comments=total.comments + part.comments,
            impressions=total.impressions + part.impressions,
            bots=total.bots + part.bots,
        )
    return total


def service_contenders(
    services: Iterable[Service], figures: dict[str, SummaryFigures], language: str = "en"
) -> list[Contender]:
    return [
        Contender(
            key=service.slug,
            name=service.display_name(language),
            tenant=service.tenant_id,
            services=1,
            figures=figures.get(service.slug, EMPTY_FIGURES),
        )
        for service in services
    ]


def agency_contenders(
    services: Iterable[Service], figures: dict[str, SummaryFigures], tenant_names: dict[str, str]
) -> list[Contender]:
    """One contender per agency: the services' `agency`, or their tenant's name."""
    groups: dict[tuple[str, str], list[Service]] = {}
    for service in services:
        agency = service.config.agency or tenant_names.get(service.tenant_id, service.tenant_id)
        groups.setdefault((service.tenant_id, agency), []).append(service)
    return [
        Contender(
            key=agency,
            name=agency,
            tenant=tenant,
            services=len(members),
            figures=add_figures(figures.get(member.slug, EMPTY_FIGURES) for member in members),
        )
        for (tenant, agency), members in groups.items()
    ]


def rank(
    contenders: list[Contender], score: compute.Score, minimum_count: int = DEFAULT_MINIMUM_COUNT
) -> list[Ranked]:
    """Best first; ties share a rank; those under minimum_count come last, unranked."""
    overall = compute.mean_stars(add_figures(c.figures for c in contenders)) or 3.0

    def score_of(contender: Contender) -> float | None:
        figures = contender.figures
        if score == "bayesian":
            return compute.bayesian_mean(figures, overall)
        return compute.wilson_lower_bound(figures.stars[3] + figures.stars[4], figures.count)

    scored = [(score_of(c), c) for c in contenders]
    ranked = sorted(
        ((value, c) for value, c in scored if c.figures.count >= minimum_count),
        key=lambda pair: (-(pair[0] or 0.0), -pair[1].figures.count, pair[1].key),
    )
    unranked = sorted(
        ((value, c) for value, c in scored if c.figures.count < minimum_count),
        key=lambda pair: (-pair[1].figures.count, pair[1].key),
    )
    result: list[Ranked] = []
    previous: float | None = None
    for position, (value, contender) in enumerate(ranked, start=1):
        shown = round(value, 4) if value is not None else None
        same = result and shown == previous
        result.append(Ranked(result[-1].rank if same else position, shown, contender))
        previous = shown
    result.extend(
        Ranked(None, round(value, 4) if value is not None else None, c) for value, c in unranked
    )
    return result
