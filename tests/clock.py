"""A clock for tests: it stands at the moment the test chose until the test moves it,
so that no figure depends on the day or the hour the suite runs."""

from __future__ import annotations

from datetime import UTC, datetime

# A Monday, mid-month, at noon in Yerevan and afternoon in Bishkek: far from every
# local midnight. Tests about day, month or zone boundaries set their own moments.
DEFAULT_MOMENT = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)


class StoppedClock:
    """Seconds since the epoch, as the collector's Clock, at a moment the test sets."""

    def __init__(self, moment: datetime = DEFAULT_MOMENT) -> None:
        self._seconds = moment.timestamp()

    def __call__(self) -> float:
        return self._seconds

    def set(self, moment: datetime) -> None:
        self._seconds = moment.timestamp()

    def advance(self, seconds: float) -> None:
        self._seconds += seconds

    @property
    def milliseconds(self) -> int:
        return int(self._seconds * 1000)
