"""`make bench-analytics`: the analytics reads over 10 million stored ratings.

Generates a realistic SQLite database once (loadtests/analytics_dataset.py, kept in
loadtests/results/analytics-scale/ for the next run), then times, warm, what the
analytics API reads: summaries, time series, the tenant's league table, a breakdown and
a comments page, through the storage interface and through the HTTP API in-process.
Prints the figures and writes docs/analytics-performance.md. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx

from collector import rankings
from collector.local_days import day_end, day_start
from collector.storage.base import CommentQuery
from collector.storage.sqlite import SqliteStorage
from loadtests.analytics_dataset import Dataset, prepare
from loadtests.analytics_ratings import TENANT
from loadtests.analytics_report import verdict, write_report

DEFAULT_CACHE = Path("loadtests/results/analytics-scale")
DEFAULT_OUTPUT = Path("docs/analytics-performance.md")
# The issue's targets, in milliseconds, judged on the p95.
SINGLE_SERVICE_TARGET_MS = 50.0
LEAGUE_TABLE_TARGET_MS = 200.0
# The routes the HTTP timings need; until the API has them, only storage is timed.
HTTP_ROUTES = (
    "/api/v1/services/{service:str}/summary",
    "/api/v1/services/{service:str}/timeseries",
    "/api/v1/rankings/services",
)
_BENCH_SECRET = "analytics-benchmark-secret-not-for-production-0123456789abcdef"  # noqa: S105

Read = Callable[[], Awaitable[str]]


def _say(text: str) -> None:
    print(text, flush=True)


@dataclass(slots=True)
class Timing:
    """One read's timed calls, in milliseconds."""

    name: str
    result: str  # what one call returned, e.g. "365 points"
    target_ms: float | None
    samples_ms: list[float] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)  # EXPLAIN QUERY PLAN, per statement

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95_ms(self) -> float:
        """Nearest rank: of 30 calls, the 29th fastest."""
        ordered = sorted(self.samples_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def met(self) -> bool | None:
        return None if self.target_ms is None else self.p95_ms < self.target_ms


async def _time(name: str, target: float | None, read: Read, repeat: int) -> Timing:
    timing = Timing(name, await read(), target)  # the untimed call warms the caches
    for _ in range(repeat):
        started = time.perf_counter()
        await read()
        timing.samples_ms.append((time.perf_counter() - started) * 1000)
    _say(f"  {timing.median_ms:9.2f} ms median {timing.p95_ms:9.2f} ms p95  {name}")
    return timing


async def _plans(storage: SqliteStorage, path: Path, read: Read) -> list[str]:
    """EXPLAIN QUERY PLAN of every statement one call runs, traced with its values: the
    SQL the storage really sends, not a copy of it that could drift."""
    statements: list[str] = []
    # _run is the only way onto the storage's reader thread and its connection.
    await storage._run("reader", lambda c: c.set_trace_callback(statements.append))
    try:
        await read()
    finally:
        await storage._run("reader", lambda c: c.set_trace_callback(None))
    plans = []
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for statement in statements:
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                steps = connection.execute(f"EXPLAIN QUERY PLAN {statement}").fetchall()
                plans.append("; ".join(str(step[3]) for step in steps))
    finally:
        connection.close()
    return plans


async def measure_storage(dataset: Dataset, repeat: int) -> list[Timing]:
    """The analytics reads through SqliteStorage, over the last 365 days of the data."""
    data = dataset.generation
    last = data.last_day
    first = last - timedelta(days=364)
    big, small = data.biggest[0], data.smallest[0]
    year = f"{first} to {last}"
    storage = SqliteStorage(dataset.path)
    try:
        await storage.migrate()  # nothing to do on an up-to-date database
        # The API lists a tenant's services from the catalog in memory: not timed.
        services = [s for s in await storage.list_services() if s.tenant_id == TENANT[0]]

        async def summary_big() -> str:
            return f"{(await storage.summary(big, first, last)).count:,} ratings"

        async def summary_small() -> str:
            return f"{(await storage.summary(small, first, last)).count:,} ratings"

        async def days() -> str:
            return f"{len(await storage.time_series(big, first, last, 'day'))} points"

        async def months() -> str:
            return f"{len(await storage.time_series(big, first, last, 'month'))} points"

        async def league_table() -> str:
            totals = await storage.totals([s.slug for s in services], first, last)
            ranked = rankings.rank(rankings.service_contenders(services, totals), "wilson")
            return f"{len(ranked)} services, {sum(r.rank is not None for r in ranked)} ranked"

        async def devices() -> str:
            return f"{len(await storage.breakdown(big, 'device', first, last))} device classes"

        async def comments() -> str:
            # As GET /api/v1/comments?order=lowest asks: bots left out, one row more
            # than the page to know whether there is a next one.
            query = CommentQuery(
                services=(big,),
                received_from=day_start(first, data.time_zone),
                received_before=day_end(last, data.time_zone),
                lowest_first=True,
                limit=51,
                include_bots=False,
            )
            page = await storage.comments(query)
            return f"{len(page)} rows, from {page[0].rating if page else '-'} stars"

        reads: list[tuple[str, float | None, Read]] = [
            (f"summary, busiest service ({big}), {year}", SINGLE_SERVICE_TARGET_MS, summary_big),
            (f"summary, quietest service ({small}), {year}", SINGLE_SERVICE_TARGET_MS,
             summary_small),
            (f"time series by day, {big}, {year}", SINGLE_SERVICE_TARGET_MS, days),
            (f"time series by month, {big}, {year}", SINGLE_SERVICE_TARGET_MS, months),
            (f"league table: totals of {len(services)} services + rank, {year}",
             LEAGUE_TABLE_TARGET_MS, league_table),
            (f"breakdown by device, {big}, {year}", None, devices),
            (f"comments, {big}, 50 lowest first, {year}", None, comments),
        ]  # fmt: skip
        timings = []
        for name, target, read in reads:
            timing = await _time(name, target, read, repeat)
            timing.plan = await _plans(storage, dataset.path, read)
            timings.append(timing)
    finally:
        await storage.close()
    return timings


async def measure_http(dataset: Dataset, repeat: int) -> tuple[list[Timing], str]:
    """The same reads through the collector's ASGI app in-process; an empty list and the
    reason when the API does not have the routes yet."""
    # Imported here: the API is younger than the storage, and the storage figures must
    # not depend on it.
    from collector.analytics_api import ROUTES
    from collector.app import create_app
    from collector.embedded_redis import EmbeddedRedis
    from collector.runtime import Runtime
    from collector.settings import Settings

    paths = {path for handler in ROUTES for path in handler.paths}
    missing = [route for route in HTTP_ROUTES if route not in paths]
    if missing:
        return [], f"Not timed: the API has no {', '.join(missing)} yet."
    data = dataset.generation
    last = data.last_day
    period = f"from={last - timedelta(days=364)}&to={last}"
    big, small = data.biggest[0], data.smallest[0]
    year = f"{last - timedelta(days=364)} to {last}"
    with tempfile.TemporaryDirectory(prefix="civic-feedback-analytics-") as work:
        # Runtime.open wants Redis (the widget's); the analytics reads never touch it.
        server = EmbeddedRedis(Path(work) / "redis")
        server.start()
        try:
            settings = Settings(
                data_dir=Path(work),
                secret=_BENCH_SECRET,
                redis_url=server.url,
                database_url=f"sqlite:///{dataset.path.resolve()}",
                create_demo=False,
                run_flusher=False,
            )
            runtime = await Runtime.open(settings)
            try:
                token = runtime.analyst_tokens.issue(TENANT[0])
                # httpx types its ASGI app more narrowly than Litestar's ASGIApp.
                transport = httpx.ASGITransport(app=cast(Any, create_app(runtime)))
                async with httpx.AsyncClient(
                    transport=transport,
                    base_url="http://collector.test",
                    headers={"authorization": f"Bearer {token}"},
                ) as client:

                    def getter(url: str) -> Read:
                        async def read() -> str:
                            response = await client.get(url)
                            if response.status_code != 200:
                                raise RuntimeError(
                                    f"GET {url}: {response.status_code} {response.text[:200]}"
                                )
                            return f"{len(response.content):,} bytes of JSON"

                        return read

                    reads: list[tuple[str, float | None, str]] = [
                        (f"GET summary, {big}, {year}", SINGLE_SERVICE_TARGET_MS,
                         f"/api/v1/services/{big}/summary?{period}"),
                        (f"GET summary, {small}, {year}", SINGLE_SERVICE_TARGET_MS,
                         f"/api/v1/services/{small}/summary?{period}"),
                        (f"GET timeseries?interval=day, {big}, {year}", SINGLE_SERVICE_TARGET_MS,
                         f"/api/v1/services/{big}/timeseries?interval=day&{period}"),
                        (f"GET timeseries?interval=month, {big}, {year}",
                         SINGLE_SERVICE_TARGET_MS,
                         f"/api/v1/services/{big}/timeseries?interval=month&{period}"),
                        (f"GET rankings/services, {year}", LEAGUE_TABLE_TARGET_MS,
                         f"/api/v1/rankings/services?{period}"),
                    ]  # fmt: skip
                    timings = [
                        await _time(name, target, getter(url), repeat)
                        for name, target, url in reads
                    ]
            finally:
                await runtime.close()
        finally:
            server.stop()
    return timings, ""


async def _run(arguments: argparse.Namespace) -> None:
    started = time.perf_counter()
    dataset = await prepare(arguments.cache, arguments.ratings, arguments.services, _say)
    _say(f"database: {dataset.path}, {dataset.database_bytes / 1024**3:.2f} GiB")
    _say(f"through the storage, {arguments.repeat} timed calls per read:")
    storage_timings = await measure_storage(dataset, arguments.repeat)
    _say(f"through the HTTP API, {arguments.repeat} timed calls per read:")
    http_timings, http_note = await measure_http(dataset, arguments.repeat)
    if http_note:
        _say(f"  {http_note}")
    write_report(
        dataset, storage_timings, http_timings, http_note, arguments.repeat, arguments.output
    )
    _say(f"\n{'read':<78} {'median ms':>10} {'p95 ms':>10}  target")
    for timing in storage_timings + http_timings:
        _say(
            f"{timing.name:<78} {timing.median_ms:>10.2f} {timing.p95_ms:>10.2f}  "
            + verdict(timing).replace("**", "")
        )
    _say(f"\nwrote {arguments.output} ({time.perf_counter() - started:,.0f} s in all)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=10_000_000)
    parser.add_argument("--services", type=int, default=500, help="of the tenant under test")
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per read")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="where generated databases are kept"
    )
    arguments = parser.parse_args(argv)
    if min(arguments.ratings, arguments.services, arguments.repeat) < 1:
        parser.error("--ratings, --services and --repeat must be at least 1")
    asyncio.run(_run(arguments))
    # A missed target is in the table, not in the exit code: this is not a timed test.
    return 0


if __name__ == "__main__":
    sys.exit(main())
