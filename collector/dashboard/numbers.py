"""How the dashboard writes numbers: one place, so a page and its charts agree."""

from __future__ import annotations

# An en dash for a figure that cannot be computed (no ratings, no views).
EMPTY = "\u2013"


def count(value: int) -> str:
    return f"{value:,}"


def mean(value: float | None) -> str:
    """Mean stars with two decimals, as analysts compare services by them."""
    return EMPTY if value is None else f"{value:.2f}"


def percent(share: float | None) -> str:
    return EMPTY if share is None else f"{share * 100:.1f}%"


def score(value: float | None) -> str:
    """As rankings.rank rounded it: rounding again could split a tie it kept."""
    return EMPTY if value is None else f"{value:.4f}"


def duration(seconds: float | None) -> str:
    """A mean answering time in the unit a reader grasps at a glance."""
    if seconds is None:
        return EMPTY
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
