"""Wire messages of the analytics API (collector/analytics_api.py)."""

from __future__ import annotations

import msgspec

from collector import figures as compute
from collector.messages import StarCounts
from collector.storage.base import SummaryFigures


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """What every analytics answer says about a set of ratings."""

    count: int
    mean: float | None
    csat: float | None  # share of 4 and 5 star ratings, 0..1
    # Lower bound of the 95% Wilson interval of csat (docs: collector/figures.py).
    csat_lower_bound: float | None
    stars: StarCounts
    comments: int
    impressions: int  # widget views
    response_rate: float | None  # count / impressions
    answered: int  # ratings whose token gave the case's timestamps
    mean_answer_seconds: float | None


def figures_body(figures: SummaryFigures) -> Figures:
    return Figures(
        count=figures.count,
        mean=compute.rounded(compute.mean_stars(figures)),
        csat=compute.rounded(compute.csat(figures)),
        csat_lower_bound=compute.rounded(
            compute.wilson_lower_bound(figures.stars[3] + figures.stars[4], figures.count)
        ),
        stars=StarCounts(*figures.stars),
        comments=figures.comments,
        impressions=figures.impressions,
        response_rate=compute.rounded(compute.response_rate(figures)),
        answered=figures.answered,
        mean_answer_seconds=compute.rounded(compute.mean_answer_seconds(figures), 1),
    )


class TimeSeriesPoint(msgspec.Struct, frozen=True):
    period_start: str  # the period's first local day, YYYY-MM-DD
    figures: Figures


class TimeSeries(msgspec.Struct, frozen=True, kw_only=True):
    """GET /api/v1/services/{service}/timeseries: periods without ratings or views
    are listed with a count of 0, so a chart's axis has no gaps."""

    service: str
    interval: str
    time_zone: str
    period_from: str
    period_to: str
    points: list[TimeSeriesPoint]


class BreakdownEntry(msgspec.Struct, frozen=True):
    value: str
    figures: Figures


class Breakdown(msgspec.Struct, frozen=True, kw_only=True):
    """GET /api/v1/services/{service}/breakdown/{dimension}."""

    service: str
    dimension: str
    period_from: str | None
    period_to: str | None
    entries: list[BreakdownEntry]


class RankingEntry(msgspec.Struct, frozen=True, kw_only=True):
    rank: int | None  # None: fewer ratings than minimum_count, listed last
    key: str  # service slug, or agency name
    name: str
    tenant: str
    services: int
    score: float | None
    figures: Figures


class Ranking(msgspec.Struct, frozen=True, kw_only=True):
    """GET /api/v1/rankings/services and /api/v1/rankings/agencies."""

    of: str  # "services" or "agencies"
    score: str  # "wilson" or "bayesian"
    score_explained: str
    minimum_count: int  # entries with fewer ratings are listed after the ranked ones
    period_from: str | None
    period_to: str | None
    entries: list[RankingEntry]


class Comment(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    service: str
    rating: int
    comment: str
    language: str
    channel: str
    received_at: str  # ISO 8601, UTC
    device_class: str
    office: str
    operator: str


class CommentsPage(msgspec.Struct, frozen=True, kw_only=True):
    """GET /api/v1/comments: one page; `next` is the cursor of the next, if any."""

    comments: list[Comment]
    next: str | None


class RecurringTermBody(msgspec.Struct, frozen=True):
    term: str
    comments: int
    share: float
    examples: list[str]


class RecurringProblems(msgspec.Struct, frozen=True, kw_only=True):
    """GET /api/v1/services/{service}/problems: frequent terms in 1 and 2 star
    comments, per language."""

    service: str
    period_from: str | None
    period_to: str | None
    comments_analysed: int
    languages: dict[str, list[RecurringTermBody]]
