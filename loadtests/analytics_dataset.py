"""The analytics benchmark's database: generated once per set of parameters, then reused.

Raw ratings go straight into the real schema (`SqliteStorage.migrate()`) with
executemany in big transactions; every rollup is then built by the storage's own
rebuild (`set_tenant_time_zone`), so the rollups are exactly what the product computes.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

import collector.storage
from collector.local_days import day_start
from collector.storage.sqlite import SqliteStorage
from collector.storage.sqlite_rollups import (
    ALL_UPSERTS,
    RATING_COLUMNS,
    ROLLUP_TABLES,
    UPSERT_IMPRESSION_DAYS,
)
from loadtests.analytics_ratings import (
    DAYS,
    HOUR,
    OTHER_TENANTS,
    TENANT,
    Profile,
    Ratings,
    day_counts,
    service_profiles,
)

# Bump when the generated data changes, so that cached databases are not reused.
GENERATOR_VERSION = 1
SEED = 7
ROW_COUNTED_TABLES = (
    "ratings",
    "service_days",
    "dimension_days",
    "daily_rollups",
    "daily_answer_rollups",
    "impression_quarters",
)
# Rows per transaction while loading: big enough that commits cost nothing.
_COMMIT_EVERY = 1_000_000


class Generation(msgspec.Struct, frozen=True, kw_only=True):
    """What a generated database holds; kept next to it as JSON, written last, so a
    database without it is an interrupted run and is generated again."""

    ratings: int
    services: int  # of the tenant under test
    last_day: date
    time_zone: str
    biggest: tuple[str, int]  # the tenant's busiest service and its ratings
    smallest: tuple[str, int]
    comment_share: float
    raw_seconds: float  # generating and inserting the raw rows
    rollup_seconds: float  # set_tenant_time_zone rebuilding every rollup
    generated_on: str
    table_rows: dict[str, int]
    table_bytes: dict[str, int]  # per table and index, from dbstat


@dataclass(frozen=True, slots=True)
class Dataset:
    path: Path
    generation: Generation
    reused: bool

    @property
    def database_bytes(self) -> int:
        wal = self.path.with_name(self.path.name + "-wal")
        return sum(path.stat().st_size for path in (self.path, wal) if path.exists())


def _cache_key(ratings: int, services: int) -> str:
    """Changes with the parameters, the generator, the schema and the rollup SQL, so a
    cached database holds what today's code would build. The SQL text, not its module's
    bytes: a faster rewrite of the Python around it keeps a 10-minute cache valid."""
    digest = hashlib.sha256(f"{GENERATOR_VERSION}/{ratings}/{services}/{SEED}".encode())
    migrations = Path(collector.storage.__file__).parent / "migrations" / "sqlite"
    for source in sorted(migrations.glob("*.sql")):
        digest.update(source.read_bytes())
    for statement in (*ALL_UPSERTS, UPSERT_IMPRESSION_DAYS, *ROLLUP_TABLES):
        digest.update(statement.encode())
    return digest.hexdigest()[:12]


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal", ".json"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _clear(cache: Path, path: Path, same_sizes: str) -> None:
    """Remove an interrupted run's files, and databases of the same sizes made by an
    older generator or schema: they are never reused."""
    for stale in cache.glob(same_sizes):
        _remove(stale)
    _remove(path)
    cache.mkdir(parents=True, exist_ok=True)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


async def prepare(
    cache: Path,
    ratings: int,
    services: int,
    progress: Callable[[str], None],
    now: Callable[[], datetime] = _wall_clock,
) -> Dataset:
    """The database for these parameters: reused from `cache` if complete, else generated
    with its last day the tenant's local day before `now()` (an aware datetime)."""
    path = cache / f"ratings-{ratings}-services-{services}-{_cache_key(ratings, services)}.db"
    metadata = path.with_name(path.name + ".json")
    if metadata.exists() and path.exists():
        generation = msgspec.json.decode(metadata.read_bytes(), type=Generation)
        progress(f"reusing {path} (generated on {generation.generated_on})")
        return Dataset(path, generation, reused=True)
    _clear(cache, path, f"ratings-{ratings}-services-{services}-*.db")
    progress(f"generating {path}")
    generation = await _generate(path, ratings, services, progress, now())
    metadata.write_bytes(msgspec.json.format(msgspec.json.encode(generation)) + b"\n")
    return Dataset(path, generation, reused=False)


async def _generate(
    path: Path, ratings: int, services: int, progress: Callable[[str], None], now: datetime
) -> Generation:
    profiles = service_profiles(random.Random(SEED), services)  # noqa: S311 (test data)
    storage = SqliteStorage(path)
    try:
        await storage.migrate()
        for tenant, name, _ in (TENANT, *OTHER_TENANTS):
            await storage.save_tenant(tenant, name)
        for profile in profiles:
            await storage.save_service(profile.service)
    finally:
        await storage.close()
    # The last whole local day before today, so that "the last 365 days" is a full year.
    last_day = now.astimezone(ZoneInfo(TENANT[2])).date() - timedelta(days=1)
    started = time.perf_counter()
    per_profile = _insert_raw(path, profiles, last_day, ratings, progress)
    raw_seconds = time.perf_counter() - started
    progress(f"raw rows: {raw_seconds:,.0f} s; rebuilding every rollup (set_tenant_time_zone)")
    started = time.perf_counter()
    storage = SqliteStorage(path)
    try:
        for tenant, _, zone in (TENANT, *OTHER_TENANTS):
            await storage.set_tenant_time_zone(tenant, zone)
    finally:
        await storage.close()
    rollup_seconds = time.perf_counter() - started
    progress(f"rollups: {rollup_seconds:,.0f} s")
    tenant_counts = sorted(
        (count, profile.service.slug)
        for profile, count in zip(profiles, per_profile, strict=True)
        if profile.service.tenant_id == TENANT[0]
    )
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        table_rows = {
            table: int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 (constants)
            for table in ROW_COUNTED_TABLES
        }
        comments = connection.execute("SELECT count(*) FROM ratings WHERE comment <> ''")
        comment_share = int(comments.fetchone()[0]) / ratings
        sizes = connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
        table_bytes = {str(name): int(size) for name, size in sizes}
    finally:
        connection.close()
    return Generation(
        ratings=ratings,
        services=services,
        last_day=last_day,
        time_zone=TENANT[2],
        biggest=(tenant_counts[-1][1], tenant_counts[-1][0]),
        smallest=(tenant_counts[0][1], tenant_counts[0][0]),
        comment_share=comment_share,
        raw_seconds=round(raw_seconds, 1),
        rollup_seconds=round(rollup_seconds, 1),
        generated_on=now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        table_rows=table_rows,
        table_bytes=table_bytes,
    )


def _insert_raw(
    path: Path,
    profiles: list[Profile],
    last_day: date,
    ratings: int,
    progress: Callable[[str], None],
) -> list[int]:
    """Insert every raw rating and widget view straight into their tables (the flusher's
    own throughput is measured by `make bench`); returns the ratings per profile."""
    generator = random.Random(SEED + 1)  # noqa: S311 (test data)
    source = Ratings(generator, profiles)
    first_day = last_day - timedelta(days=DAYS - 1)
    marks = ", ".join("?" * (RATING_COLUMNS.count(",") + 2))
    insert_rating = f"INSERT INTO ratings ({RATING_COLUMNS}, stored_at) VALUES ({marks})"  # noqa: S608
    insert_views = (
        "INSERT INTO impression_quarters (service, quarter_start, impressions) VALUES (?, ?, ?)"
    )
    totals = [0] * len(profiles)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # A scratch database, generated again after any failure: no durability needed,
        # and without WAL each new page is written once, not twice.
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -1048576")  # 1 GiB
        done = uncommitted = 0
        next_report = max(1, ratings // 10)
        started = time.perf_counter()
        connection.execute("BEGIN")
        for number, count in enumerate(day_counts(generator, first_day, ratings)):
            day = first_day + timedelta(days=number)
            start = day_start(day, TENANT[2])
            rows, per_profile = source.day(start, count)
            connection.executemany(insert_rating, rows)
            # Widget views: one quarter-hour row per service and day (at local noon)
            # is enough, as every read sums whole days.
            connection.executemany(
                insert_views,
                [
                    (profile.service.slug, start + 12 * HOUR, round(n * profile.views_per_rating))
                    for profile, n in zip(profiles, per_profile, strict=True)
                    if n
                ],
            )
            totals = [total + n for total, n in zip(totals, per_profile, strict=True)]
            done += count
            uncommitted += count
            if uncommitted >= _COMMIT_EVERY:
                connection.execute("COMMIT")
                connection.execute("BEGIN")
                uncommitted = 0
            if done >= next_report:
                rate = done / (time.perf_counter() - started)
                progress(f"  {done:>12,} / {ratings:,} ratings ({rate:,.0f}/s), up to {day}")
                next_report += max(1, ratings // 10)
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode = WAL")  # as the collector runs it
    finally:
        connection.close()
    return totals
