"""The benchmark harness's own parts: reading wrk's output, writing the report, and the
analytics benchmark's generated data."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collector.storage.sqlite import SqliteStorage
from loadtests.analytics_dataset import prepare
from loadtests.analytics_ratings import OTHER_TENANT_SERVICES, OTHER_TENANTS
from loadtests.bench import Figures
from loadtests.report import write_report
from loadtests.wrk_runs import WrkResult, parse

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:41241/w/demo-passport
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.31ms    4.20ms  58.20ms   88.10%
    Req/Sec    10.19k   612.21    11.20k    70.00%
  Latency Distribution
     50%    5.73ms
     75%    7.02ms
     90%    9.64ms
     99%   39.85ms
  101592 requests in 10.02s, 14.53MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  10137.63
Transfer/sec:      1.45MB
"""


def test_wrk_output_is_read_with_its_units_and_errors() -> None:
    assert parse(WRK_OUTPUT) == WrkResult(10137.63, 5.73, 39.85, 101592, 7)
    micro = WRK_OUTPUT.replace("5.73ms", "812.00us").replace("39.85ms", "1.20s")
    result = parse(micro)
    assert result.p50_ms == pytest.approx(0.812)
    assert result.p99_ms == 1200.0


def test_unreadable_output_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValueError, match="cannot read wrk's output"):
        parse("wrk: connection refused")


def result(rate: float, p99: float = 3.0) -> WrkResult:
    return WrkResult(rate, 1.0, p99, int(rate * 10), 0)


def test_report_takes_medians_and_judges_the_targets(tmp_path: Path) -> None:
    figures = Figures(machine="test machine", settings={"runs": 3, "flusher entries": 1000})
    figures.http = {
        "get/baseline/1": [result(40_000), result(41_000), result(39_000)],
        "get/collector/1": [result(30_000), result(10_000), result(29_000)],
        "post/baseline/1": [result(40_000)] * 3,
        "post/collector/1": [result(9_000), result(11_000), result(10_000)],
        "half/collector/1": [
            result(5_000, p99=20.0),
            result(5_000, p99=40.0),
            result(5_000, p99=24.0),
        ],
    }
    figures.flusher = [19_000.0, 30_000.0, 21_000.0]
    figures.flusher_postgres = [15_000.0, 12_000.0, 14_000.0]
    figures.memory = {"start": 50.0, "after_first_minute": 60.0, "end": 66.0, "minutes": 10}
    output = tmp_path / "performance.md"
    write_report(figures, output)
    text = output.read_text()
    assert "| 1 | GET | 40,000 | 29,000 | 0.72 |" in text
    assert "| widget GET ≥ 0.5 x raw ASGI (1 worker) | 0.72 | met |" in text
    assert "| widget POST ≥ 0.25 x raw ASGI (1 worker) | 0.25 | met |" in text
    assert "| p99 < 25 ms at half the peak (1 worker) | 24.0 ms | met |" in text
    assert "| flusher ≥ 20,000 rows/s into SQLite | 21,000 | met |" in text
    assert (
        "| flusher into PostgreSQL (on disk, fsync on), 1,000 pre-filled entries | 14,000 rows/s |"
    ) in text
    assert (
        "| RSS growth < 5% over the run, from start (server ready, before load) | +32.0% "
        "| **not met** |"
    ) in text
    assert "+10.0% since the first minute" in text


# A fixed "now", so that the generated data, and so the test, is the same on any day.
_NOW = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


def _at(now: datetime) -> Callable[[], datetime]:
    return lambda: now


async def _assert_rollups_match_the_raw_rows(path: Path) -> None:
    """Every figure the storage reads from its rollups (series, views, answers, devices)
    equals a count over the raw rows and views, by each tenant's local days."""
    with closing(sqlite3.connect(path)) as connection:
        zones = dict(
            connection.execute(
                "SELECT slug, time_zone FROM services JOIN tenants ON tenants.id = tenant_id"
            )
        )
        raw = connection.execute(
            "SELECT service, rating, comment, received_at, device_class, is_bot, answers "
            "FROM ratings"
        ).fetchall()
        quarters = connection.execute(
            "SELECT service, quarter_start, impressions FROM impression_quarters"
        ).fetchall()

    def local_day(service: str, milliseconds: int) -> tuple[str, str]:
        moment = datetime.fromtimestamp(milliseconds / 1000, ZoneInfo(zones[service]))
        return service, moment.date().isoformat()

    # count, stars 1-5, comments, bots, views: a day with views and no rating is a point too.
    days: dict[tuple[str, str], list[int]] = {}
    views: Counter[str] = Counter()
    devices: dict[str, Counter[str]] = {}
    answers: dict[str, Counter[tuple[str, str]]] = {}
    for service, quarter_start, impressions in quarters:
        days.setdefault(local_day(service, quarter_start), [0] * 9)[8] += impressions
        views[service] += impressions
    for service, rating, comment, received_at, device, is_bot, answered in raw:
        figures = days.setdefault(local_day(service, received_at), [0] * 9)
        if is_bot:
            figures[7] += 1
            continue
        figures[0] += 1
        figures[rating] += 1
        figures[6] += comment != ""
        devices.setdefault(service, Counter())[device] += 1
        answers.setdefault(service, Counter()).update(json.loads(answered).items())

    storage = SqliteStorage(path)
    try:
        first, last = date(2000, 1, 1), date(2100, 1, 1)
        for service in zones:
            points = await storage.time_series(service, first, last, "day")
            assert {
                (service, point.key): [
                    point.figures.count,
                    *point.figures.stars,
                    point.figures.comments,
                    point.figures.bots,
                    point.figures.impressions,
                ]
                for point in points
            } == {key: figures for key, figures in days.items() if key[0] == service}
            summary = await storage.summary(service, None, None)
            assert summary.impressions == views[service]
            assert {
                (question, answer): count
                for question, counts in summary.answers.items()
                for answer, count in counts.items()
            } == answers.get(service, {})
            breakdown = await storage.breakdown(service, "device", None, None)
            assert {entry.key: entry.figures.count for entry in breakdown} == devices.get(
                service, {}
            )
    finally:
        await storage.close()


async def test_analytics_data_rollups_match_the_raw_rows(tmp_path: Path) -> None:
    """The benchmark's generator at 2,000 ratings x 5 services: every figure the storage
    reads from its rollups equals a count over the raw rows, by the tenant's local days;
    a second call reuses the database."""
    dataset = await prepare(
        tmp_path, ratings=2000, services=5, progress=lambda _: None, now=_at(_NOW)
    )
    assert dataset.generation.last_day == date(2026, 12, 5)
    with closing(sqlite3.connect(dataset.path)) as connection:
        zones = dict(
            connection.execute(
                "SELECT slug, time_zone FROM services JOIN tenants ON tenants.id = tenant_id"
            )
        )
        comments = [row[0] for row in connection.execute("SELECT comment FROM ratings")]
    assert len(comments) == 2000
    assert len(zones) == 5 + len(OTHER_TENANTS) * OTHER_TENANT_SERVICES
    assert zones[dataset.generation.biggest[0]] == "Asia/Yerevan"
    assert dataset.generation.biggest[1] > 3 * dataset.generation.smallest[1]
    assert 0.14 < sum(comment != "" for comment in comments) / len(comments) < 0.28
    await _assert_rollups_match_the_raw_rows(dataset.path)

    again = await prepare(
        tmp_path, ratings=2000, services=5, progress=lambda _: None, now=_at(_NOW)
    )
    assert again.reused
    assert again.path == dataset.path
    assert again.generation == dataset.generation


def _todays() -> list[datetime]:
    """ "Now"s that move the generated two years over weekdays, month and year ends, a
    leap day and the last minutes before and after midnight in Yerevan (UTC+4)."""
    moments = [_NOW + timedelta(days=days) for days in range(0, 35)]
    moments += [
        datetime(2027, 1, 1, 0, 5, tzinfo=UTC),
        datetime(2028, 2, 29, 12, tzinfo=UTC),
        datetime(2028, 3, 1, 19, 59, tzinfo=UTC),  # 23:59 in Yerevan
        datetime(2028, 3, 1, 20, 0, tzinfo=UTC),  # midnight in Yerevan
        datetime(2030, 6, 30, 23, 59, tzinfo=UTC),
        datetime(2031, 12, 31, 21, 30, tzinfo=UTC),
    ]
    return moments


async def test_the_generated_data_matches_its_rollups_whatever_the_day(tmp_path: Path) -> None:
    """The same comparison, at a smaller size, for 41 different "today"s: whether a day
    of views lands without ratings depends on the dates, so one date proves little."""
    last_days = set()
    for number, now in enumerate(_todays()):
        dataset = await prepare(
            tmp_path / str(number), ratings=300, services=3, progress=lambda _: None, now=_at(now)
        )
        assert not dataset.reused
        expected = now.astimezone(ZoneInfo("Asia/Yerevan")).date() - timedelta(days=1)
        assert dataset.generation.last_day == expected
        last_days.add(expected)
        await _assert_rollups_match_the_raw_rows(dataset.path)
    assert len(last_days) == len(_todays()) - 1  # 2028-03-01 19:59 and 20:00 UTC differ
