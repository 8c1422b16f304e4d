"""What a month publishes: the all-or-nothing withholding and the months asked for."""

from __future__ import annotations

from datetime import date

import pytest

from collector.errors import BadRequest
from collector.open_figures import month_range, month_text, withheld_stars

ALL_WITHHELD = (None, None, None, None, None)


@pytest.mark.parametrize(
    ("stars", "minimum_count", "published"),
    [
        ((10, 10, 10, 10, 10), 10, (10, 10, 10, 10, 10)),  # exactly N is enough
        ((9, 10, 10, 10, 10), 10, ALL_WITHHELD),
        ((10, 10, 10, 10, 9), 10, ALL_WITHHELD),
        ((0, 0, 0, 0, 10), 10, ALL_WITHHELD),  # a zero counts as below
        ((20, 30, 40, 50, 0), 10, ALL_WITHHELD),
        ((9, 9, 14, 14, 14), 10, ALL_WITHHELD),  # 18 over two cells of at most 9
        ((3, 10, 11, 12, 14), 10, ALL_WITHHELD),
        ((3, 6, 9, 10, 12), 5, ALL_WITHHELD),
        ((5, 6, 7, 8, 9), 5, (5, 6, 7, 8, 9)),
        ((4, 4, 4, 4, 4), 5, ALL_WITHHELD),  # 20 ratings, every star count below 5
        ((100, 0, 100, 100, 100), 5, ALL_WITHHELD),
        ((12, 15, 1000, 10, 11), 10, (12, 15, 1000, 10, 11)),
    ],
)
def test_withheld_stars(
    stars: tuple[int, int, int, int, int],
    minimum_count: int,
    published: tuple[int | None, ...],
) -> None:
    assert withheld_stars(stars, minimum_count) == published


@pytest.mark.parametrize(
    ("local_today", "period_from", "period_to", "first", "last"),
    [
        (date(2026, 2, 28), None, None, "2024-02", "2026-01"),
        (date(2026, 2, 28), "2025-12", None, "2025-12", "2026-01"),
        (date(2026, 2, 28), None, "2025-01", "2023-02", "2025-01"),
        (date(2026, 2, 28), "2021-02", "2026-01", "2021-02", "2026-01"),  # 60 months
        (date(2026, 2, 28), "2026-01", "2026-01", "2026-01", "2026-01"),
        (date(2026, 3, 1), None, None, "2024-03", "2026-02"),  # February is over
        (date(2026, 1, 15), None, None, "2024-01", "2025-12"),  # across the new year
    ],
)
def test_month_range(
    local_today: date, period_from: str | None, period_to: str | None, first: str, last: str
) -> None:
    months = month_range(period_from, period_to, local_today)
    assert (month_text(months[0]), month_text(months[-1])) == (first, last)


@pytest.mark.parametrize(
    ("local_today", "period_from", "period_to", "field", "detail"),
    [
        (date(2026, 2, 28), None, "2026-02", "to", "'to' must be a complete month, before 2026-02"),
        (
            date(2026, 2, 1),
            "2026-01",
            "2026-03",
            "to",
            "'to' must be a complete month, before 2026-02",
        ),
        (date(2026, 1, 1), None, "2026-01", "to", "'to' must be a complete month, before 2026-01"),
        (date(2026, 2, 28), "2026-02", None, "from", "'from' is after 'to'"),
        (date(2026, 2, 28), "2021-01", None, "from", "at most 60 months at a time"),
    ],
)
def test_month_range_refuses(
    local_today: date, period_from: str | None, period_to: str | None, field: str, detail: str
) -> None:
    with pytest.raises(BadRequest) as raised:
        month_range(period_from, period_to, local_today)
    assert (raised.value.field, raised.value.detail) == (field, detail)
