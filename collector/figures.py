"""Figures analysts read, computed from rollup sums: mean, CSAT, honest scores for
small samples, response rate.

Two scores rank services and agencies fairly when some have few ratings:

- **wilson** (the default): the lower bound of the 95% Wilson score interval of the
  CSAT share (ratings of 4 or 5 stars). Three ratings of 5 stars score 0.44, three
  hundred of which 90% are 4 or 5 score 0.86: a service climbs the table only as the
  evidence for it grows.
- **bayesian**: the mean of the stars after adding `BAYESIAN_PRIOR_WEIGHT` imaginary
  ratings at the mean of the whole table, so a small sample is pulled towards the
  average and a large one keeps its own mean.
"""

from __future__ import annotations

import math
from typing import Literal

from collector.storage.base import SummaryFigures

Score = Literal["wilson", "bayesian"]
SCORES: tuple[str, ...] = ("wilson", "bayesian")
# z for a two-sided 95% interval.
WILSON_Z = 1.959963984540054
# About a week of ratings for a small service: enough that one angry citizen does not
# sink it, small enough that a busy service's own mean dominates.
BAYESIAN_PRIOR_WEIGHT = 25


def mean_stars(figures: SummaryFigures) -> float | None:
    if not figures.count:
        return None
    return sum(star * count for star, count in enumerate(figures.stars, start=1)) / figures.count


def csat(figures: SummaryFigures) -> float | None:
    """Share of ratings with 4 or 5 stars."""
    if not figures.count:
        return None
    return (figures.stars[3] + figures.stars[4]) / figures.count


def wilson_lower_bound(positive: int, total: int, z: float = WILSON_Z) -> float | None:
    """Lower bound of the Wilson score interval for positive / total."""
    if total <= 0:
        return None
    share = positive / total
    denominator = 1 + z * z / total
    centre = share + z * z / (2 * total)
    margin = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    return max(0.0, (centre - margin) / denominator)


def bayesian_mean(
    figures: SummaryFigures, prior_mean: float, prior_weight: int = BAYESIAN_PRIOR_WEIGHT
) -> float | None:
    """Mean stars with prior_weight imaginary ratings at prior_mean added."""
    if not figures.count:
        return None
    total = sum(star * count for star, count in enumerate(figures.stars, start=1))
    return (total + prior_mean * prior_weight) / (figures.count + prior_weight)


def response_rate(figures: SummaryFigures) -> float | None:
    """Ratings per widget view; None before any view was counted."""
    if not figures.impressions:
        return None
    return figures.count / figures.impressions


def mean_answer_seconds(figures: SummaryFigures) -> float | None:
    if not figures.answered:
        return None
    return figures.answer_seconds_sum / figures.answered


def rounded(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(value, places)


class DerivedFigures:
    """Mean, CSAT, response rate and answer time of the class's `figures`, for the
    dashboard's templates (a mixin for its slotted dataclasses)."""

    __slots__ = ()
    figures: SummaryFigures

    @property
    def mean(self) -> float | None:
        return mean_stars(self.figures)

    @property
    def csat(self) -> float | None:
        return csat(self.figures)

    @property
    def response_rate(self) -> float | None:
        return response_rate(self.figures)

    @property
    def mean_answer_seconds(self) -> float | None:
        return mean_answer_seconds(self.figures)
