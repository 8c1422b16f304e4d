"""The benchmark harness's own parts: reading wrk's output and writing the report."""

from __future__ import annotations

from pathlib import Path

import pytest

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
        "| RSS growth < 5% over the run, from the first minute (warm caches) | +10.0% "
        "| **not met** |"
    ) in text
    assert "+32.0% since the start" in text
