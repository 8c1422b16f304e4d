"""The benchmark harness's own parts: reading wrk's output, writing the report, and the
analytics benchmark's generated data."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from contextlib import closing
from datetime import date, datetime
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


async def test_analytics_data_rollups_match_the_raw_rows(tmp_path: Path) -> None:
    """The benchmark's generator at 2,000 ratings x 5 services: every figure the storage
    reads from its rollups equals a count over the raw rows, by the tenant's local days."""
    dataset = await prepare(tmp_path, ratings=2000, services=5, progress=lambda _: None)
    with closing(sqlite3.connect(dataset.path)) as connection:
        zones = dict(
            connection.execute(
                "SELECT slug, time_zone FROM services JOIN tenants ON tenants.id = tenant_id"
            )
        )
        raw = connection.execute(
            "SELECT service, rating, comment, received_at, device_class, is_bot, answers "
            "FROM ratings"
        ).fetchall()
        views = dict(
            connection.execute(
                "SELECT service, sum(impressions) FROM impression_quarters GROUP BY 1"
            )
        )
    assert len(raw) == 2000
    assert len(zones) == 5 + len(OTHER_TENANTS) * OTHER_TENANT_SERVICES
    assert zones[dataset.generation.biggest[0]] == "Asia/Yerevan"
    assert dataset.generation.biggest[1] > 3 * dataset.generation.smallest[1]
    assert 0.14 < sum(row[2] != "" for row in raw) / len(raw) < 0.28

    days: dict[tuple[str, str], list[int]] = {}
    devices: dict[str, Counter[str]] = {}
    answers: dict[str, Counter[tuple[str, str]]] = {}
    for service, rating, comment, received_at, device, is_bot, answered in raw:
        local = datetime.fromtimestamp(received_at / 1000, ZoneInfo(zones[service]))
        figures = days.setdefault((service, local.date().isoformat()), [0] * 8)
        if is_bot:
            figures[7] += 1
            continue
        figures[0] += 1
        figures[rating] += 1
        figures[6] += comment != ""
        devices.setdefault(service, Counter())[device] += 1
        answers.setdefault(service, Counter()).update(json.loads(answered).items())

    storage = SqliteStorage(dataset.path)
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
                ]
                for point in points
            } == {key: figures for key, figures in days.items() if key[0] == service}
            summary = await storage.summary(service, None, None)
            assert summary.impressions == views.get(service, 0)
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

    again = await prepare(tmp_path, ratings=2000, services=5, progress=lambda _: None)
    assert again.reused
    assert again.path == dataset.path
    assert again.generation == dataset.generation
