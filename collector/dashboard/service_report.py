"""The service page's figures: trend, stars, splits, questions and comments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup

from collector import figures as compute
from collector.analyst_scope import AnalystScope
from collector.dashboard import numbers
from collector.dashboard.charts import (
    Bar,
    Point,
    axis_step,
    bar_chart,
    column_chart,
    line_chart,
)
from collector.dashboard.periods import ReportPeriod, axis_labels, period_name
from collector.dashboard.recurring_problems import RecurringProblems, recurring_problems
from collector.figures import DerivedFigures
from collector.local_days import UTC_NAME, is_time_zone
from collector.questions import QUESTIONS
from collector.services import Service
from collector.storage.base import EMPTY_FIGURES, CommentQuery, PeriodFigures, SummaryFigures

COMMENTS_SHOWN = 10
LANGUAGE_NAMES = {
    "en": "English",
    "ru": "Russian",
    "hy": "Armenian",
    "ky": "Kyrgyz",
    "uz": "Uzbek",
    "kk": "Kazakh",
}
DEVICE_NAMES = {"mobile": "Phone", "tablet": "Tablet", "desktop": "Computer", "other": "Other"}


@dataclass(frozen=True, slots=True)
class TrendRow(DerivedFigures):
    period: str
    figures: SummaryFigures


@dataclass(frozen=True, slots=True)
class QuestionResult:
    text: str
    answered: int
    chart: Markup


@dataclass(frozen=True, slots=True)
class Comment:
    stars: int
    received: str  # local date and time
    language: str
    language_name: str
    text: str


@dataclass(frozen=True, slots=True)
class ServiceReport(DerivedFigures):
    name: str  # in English, as the league table names it
    tenant_name: str
    figures: SummaryFigures
    newest: str | None
    interval: str
    trend_counts: Markup
    trend_means: Markup
    trend_rows: list[TrendRow]
    stars: Markup
    devices: Markup | None
    languages: Markup | None
    questions: list[QuestionResult]
    comments: list[Comment]
    problems: RecurringProblems

    @staticmethod
    def language_name(code: str) -> str:
        return LANGUAGE_NAMES.get(code, code)


def _local_time(milliseconds: int, time_zone: str) -> str:
    zone = ZoneInfo(time_zone if is_time_zone(time_zone) else UTC_NAME)
    return datetime.fromtimestamp(milliseconds / 1000, zone).strftime("%Y-%m-%d %H:%M")


def _share_text(part: int, whole: int) -> str:
    return f"{numbers.count(part)} ({numbers.percent(part / whole if whole else None)})"


def _trend(
    series: list[PeriodFigures], period: ReportPeriod
) -> tuple[Markup, Markup, list[TrendRow]]:
    found = {point.key: point.figures for point in series}
    interval = period.interval
    starts = period.starts()
    rows = [
        TrendRow(period_name(start, interval), found.get(start.isoformat(), EMPTY_FIGURES))
        for start in starts
    ]
    labels = axis_labels(starts, interval, axis_step(len(starts)))
    counts = [
        Point(label, f"{row.period}: {numbers.count(row.figures.count)} ratings", row.figures.count)
        for label, row in zip(labels, rows, strict=True)
    ]
    means = [
        Point(label, f"{row.period}: mean {numbers.mean(row.mean)}", row.mean)
        for label, row in zip(labels, rows, strict=True)
    ]
    busiest = max(rows, key=lambda row: row.figures.count)
    known = [row.mean for row in rows if row.mean is not None]
    lowest, highest = numbers.mean(min(known, default=None)), numbers.mean(max(known, default=None))
    span = f"from {rows[0].period} to {rows[-1].period}"
    count_chart = column_chart(
        f"Ratings per {interval}",
        f"Ratings per {interval} {span}; the most, {numbers.count(busiest.figures.count)}, "
        f"in {busiest.period}. The table below lists every {interval}.",
        counts,
    )
    mean_chart = line_chart(
        f"Mean stars per {interval}",
        f"Mean stars per {interval} {span}, on a scale of 1 to 5: lowest "
        f"{lowest}, highest {highest}.",
        means,
    )
    return count_chart, mean_chart, rows


def _stars(figures: SummaryFigures) -> Markup:
    return bar_chart(
        "Ratings by stars",
        [
            Bar(
                f"{stars} star" + ("s" if stars > 1 else ""),
                figures.stars[stars - 1],
                _share_text(figures.stars[stars - 1], figures.count),
            )
            for stars in range(5, 0, -1)
        ],
    )


def _split(title: str, parts: list[PeriodFigures], names: Mapping[str, str]) -> Markup | None:
    whole = sum(part.figures.count for part in parts)
    if not whole:
        return None
    return bar_chart(
        title,
        [
            Bar(
                names.get(part.key, part.key or "unknown"),
                part.figures.count,
                f"{_share_text(part.figures.count, whole)}, "
                f"mean {numbers.mean(compute.mean_stars(part.figures))}",
            )
            for part in parts
        ],
    )


def _questions(
    service: Service, answers: Mapping[str, Mapping[str, int]], messages: Mapping[str, str]
) -> list[QuestionResult]:
    """The service's questions in its order, then any answered question it dropped since."""
    asked = list(service.config.questions) + sorted(set(answers) - set(service.config.questions))
    results = []
    for question in asked:
        counts = answers.get(question, {})
        answered = sum(counts.values())
        options = QUESTIONS.get(question, ())
        values = list(options) + sorted(set(counts) - set(options))

        def label(value: str, question: str = question) -> str:
            key = value if value in ("agree", "disagree") else f"q_{question}_{value}"
            return messages.get(key, value)

        text = service.question_text(question, "en") or messages.get(f"q_{question}", question)
        chart = bar_chart(
            text,
            [
                Bar(label(value), counts.get(value, 0), _share_text(counts.get(value, 0), answered))
                for value in values
            ],
        )
        results.append(QuestionResult(text, answered, chart))
    return results


async def _comments(
    scope: AnalystScope, service: Service, bounds: tuple[int | None, int | None], time_zone: str
) -> list[Comment]:
    rows = await scope.runtime.storage.comments(
        CommentQuery(
            services=(service.slug,),
            received_from=bounds[0],
            received_before=bounds[1],
            lowest_first=True,
            limit=COMMENTS_SHOWN,
            include_bots=False,
        )
    )
    return [
        Comment(
            stars=row.rating,
            received=_local_time(row.received_at, time_zone),
            language=row.language,
            language_name=ServiceReport.language_name(row.language),
            text=row.comment,
        )
        for row in rows
    ]


async def service_report(
    scope: AnalystScope, service: Service, period: ReportPeriod
) -> ServiceReport:
    storage = scope.runtime.storage
    time_zone = scope.time_zone(service.tenant_id)
    figures = await storage.summary(service.slug, period.first, period.last)
    series = await storage.time_series(service.slug, period.first, period.last, period.interval)
    counts, means, rows = _trend(series, period)
    devices = await storage.breakdown(service.slug, "device", period.first, period.last)
    languages = await storage.breakdown(service.slug, "language", period.first, period.last)
    messages = scope.runtime.pages.catalogs.messages("en")
    bounds = period.as_period.received_bounds(time_zone)
    return ServiceReport(
        name=service.display_name("en"),
        tenant_name=scope.tenant_name(service.tenant_id),
        figures=figures,
        newest=_local_time(figures.newest_received_at, time_zone)
        if figures.newest_received_at
        else None,
        interval=period.interval,
        trend_counts=counts,
        trend_means=means,
        trend_rows=rows,
        stars=_stars(figures),
        devices=_split("Ratings by device", devices, DEVICE_NAMES),
        languages=_split("Ratings by language", languages, LANGUAGE_NAMES),
        questions=_questions(service, figures.answers, messages),
        comments=await _comments(scope, service, bounds, time_zone),
        problems=await recurring_problems(storage, service.slug, *bounds),
    )
