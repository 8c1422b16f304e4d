"""The dashboard's charts and periods, as functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from collector.dashboard import charts
from collector.dashboard.periods import ReportPeriod, axis_labels, choose_period, presets
from collector.errors import BadRequest


def test_bar_charts_escape_labels_and_state_their_numbers() -> None:
    svg = charts.bar_chart(
        "Stars <by>", [charts.Bar("<script>", 3, "3 (75.0%)"), charts.Bar("b", 1, "1 (25.0%)")]
    )
    assert svg.startswith('<svg class="chart bars" width="100%" height="88" role="img" ')
    assert 'aria-label="Stars &lt;by&gt;: &lt;script&gt;: 3 (75.0%); b: 1 (25.0%)"' in svg
    assert "<script>" not in svg
    assert '<rect class="bar" x="0" y="21" width="100%"' in svg  # the largest: full width
    assert '<rect class="bar" x="0" y="65" width="33.33%"' in svg


def test_line_charts_break_at_gaps() -> None:
    points = [charts.Point(str(n), f"p{n}", value) for n, value in enumerate([4.0, None, 3, 5])]
    svg = charts.line_chart("Mean", "Mean stars", points)
    assert svg.count('<circle class="dot"') == 3
    assert svg.count('<line class="trend"') == 1  # only the last two periods are joined


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20), (250, 500)]
)
def test_column_scales_end_on_round_numbers(value: float, ceiling: float) -> None:
    assert charts.nice_ceiling(value) == ceiling


@pytest.mark.parametrize(
    ("first", "last", "interval", "starts"),
    [
        (date(2026, 1, 1), date(2026, 1, 3), "day", 3),
        (date(2026, 1, 1), date(2026, 3, 3), "day", 62),
        (date(2026, 1, 1), date(2026, 3, 4), "week", 10),  # from Monday 2025-12-29
        (date(2025, 12, 1), date(2026, 11, 23), "month", 12),
    ],
)
def test_the_trend_interval_follows_the_span(
    first: date, last: date, interval: str, starts: int
) -> None:
    period = ReportPeriod(first, last)
    assert period.interval == interval
    assert len(period.starts()) == starts
    assert period.starts()[0] <= first


def test_an_open_end_is_filled_with_thirty_days() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC).timestamp()
    assert choose_period(None, "2026-01-30", "UTC", now) == ReportPeriod(
        date(2026, 1, 1), date(2026, 1, 30)
    )
    assert choose_period("2026-01-01", "2026-01-01", "UTC", now).days == 1
    assert choose_period(None, None, "UTC", now) == ReportPeriod(date(2026, 2, 1), date(2026, 3, 2))
    with pytest.raises(BadRequest) as raised:
        choose_period("2126-01-01", None, "UTC", now)  # after today
    assert raised.value.field == "from"


@pytest.mark.parametrize(
    ("moment", "last_day"),
    [
        # Yerevan is UTC+4 all year: its day ends at 20:00 UTC.
        (datetime(2026, 2, 28, 19, 59, 59, 999000, tzinfo=UTC), date(2026, 2, 28)),
        (datetime(2026, 2, 28, 20, 0, tzinfo=UTC), date(2026, 3, 1)),
        (datetime(2028, 2, 28, 20, 0, tzinfo=UTC), date(2028, 2, 29)),
        (datetime(2026, 12, 31, 20, 0, tzinfo=UTC), date(2027, 1, 1)),
    ],
)
def test_the_default_period_ends_on_the_tenants_local_day(moment: datetime, last_day: date) -> None:
    now = moment.timestamp()
    period = choose_period(None, None, "Asia/Yerevan", now)
    assert period == ReportPeriod(last_day - timedelta(days=29), last_day)
    assert [preset.period.last for preset in presets("Asia/Yerevan", now)] == [last_day] * 3
    # "to" may lie up to a year after the local today, and no further.
    ahead = last_day + timedelta(days=366)
    assert choose_period(None, ahead.isoformat(), "Asia/Yerevan", now).last == ahead
    with pytest.raises(BadRequest):
        choose_period(None, (ahead + timedelta(days=1)).isoformat(), "Asia/Yerevan", now)


def test_the_twelve_month_preset_starts_on_a_first_of_the_month() -> None:
    now = datetime(2026, 3, 31, 19, 59, tzinfo=UTC).timestamp()  # 23:59 in Yerevan
    twelve_months = presets("Asia/Yerevan", now)[2].period
    assert twelve_months == ReportPeriod(date(2025, 4, 1), date(2026, 3, 31))
    now = datetime(2026, 3, 31, 20, 0, tzinfo=UTC).timestamp()  # April in Yerevan
    assert presets("Asia/Yerevan", now)[2].period.first == date(2025, 5, 1)


def test_month_labels_name_the_year_where_the_shown_year_changes() -> None:
    starts = ReportPeriod(date(2025, 11, 1), date(2026, 11, 23)).starts()
    step = charts.axis_step(len(starts))
    assert step == 3
    shown = axis_labels(starts, "month", step)[::step]
    assert shown == ["Nov 2025", "Feb 2026", "May", "Aug", "Nov"]
