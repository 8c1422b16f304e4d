"""PostgreSQL's rollup statements, staging tables, advisory locks and month partitions.

Each rollup statement adds what one source relation holds: the batch in the staging
table `incoming` when the flusher stores, or a tenant's raw ratings joined to their
local days when its time zone changes. Days come from Python (collector/local_days.py),
as for SQLite, so both backends count a rating on the same day, and a zone that only
one of Python and PostgreSQL knows cannot fail a batch.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterable

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from collector.storage.base import DIMENSIONS
from collector.storage.rollup_rows import DIMENSION_DAYS

Connection = AsyncConnection[TupleRow]

# Advisory locks: (our namespace, what is locked). Transaction-scoped, so a crashed
# session cannot leave one held. The namespace ("CFDB" in ASCII) keeps our keys apart
# from another application's advisory locks in the same database.
_LOCK_NAMESPACE = 0x43_46_44_42
MIGRATIONS_LOCK = 1
PARTITIONS_LOCK = 2
# Taken shared by every store and exclusively by a time zone change, which rebuilds the
# tenant's rollups: a batch's days are then all in the zone the rebuild left in place.
ZONES_LOCK = 3


def advisory_lock(key: int, *, shared: bool = False) -> bytes:
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    return f"SELECT {function}({_LOCK_NAMESPACE}, {int(key)})".encode()


QUARTER_MILLISECONDS = 900_000
RATING_COLUMNS = (
    "id, service, rating, comment, language, channel, received_at, device_class, "
    "os_family, browser_family, is_bot, answers, transaction_ref, office, operator, "
    "answer_seconds"
)
# COPY's binary format needs each column's type. Every integer goes in as int8: psycopg's
# binary int4 dumper keeps the low 32 bits of a larger Python int (2**32 + 5 arrives as
# 5), while int8 raises OverflowError; the cast into ratings then checks the range.
_COPY_TYPES = {"rating": "int8", "received_at": "int8", "answer_seconds": "int8", "is_bot": "bool"}
INCOMING_TYPES = [*(_COPY_TYPES.get(name, "text") for name in RATING_COLUMNS.split(", ")), "date"]
COPY_INCOMING = f"COPY incoming ({RATING_COLUMNS}, day) FROM STDIN (FORMAT BINARY)".encode()

# Per connection (created when the pool opens it), emptied at every commit: staging
# in a temporary table costs no WAL, and ON COMMIT DELETE ROWS avoids creating and
# dropping a table per batch, which would bloat the catalog.
CREATE_STAGING = b"""
CREATE TEMP TABLE IF NOT EXISTS incoming (
    id TEXT COLLATE "C" NOT NULL, service TEXT COLLATE "C" NOT NULL, rating BIGINT,
    comment TEXT, language TEXT, channel TEXT, received_at BIGINT,
    device_class TEXT, os_family TEXT, browser_family TEXT, is_bot BOOLEAN, answers TEXT,
    transaction_ref TEXT COLLATE "C", office TEXT, operator TEXT, answer_seconds BIGINT,
    day DATE
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS quarter_days (quarter BIGINT PRIMARY KEY, day DATE NOT NULL)
    ON COMMIT DELETE ROWS;
"""

# Claim the batch's keys; rows whose id or (service, transaction) is taken are left out
# of the insert and then dropped from incoming, so the rollups see only new ratings. In
# id order, so of a transaction rated twice in one batch the lowest id (the earliest)
# wins, as on SQLite, and concurrent flushers take the ids' locks in the same order.
# (Two batches that both repeat each other's transactions under other ids can still
# deadlock; PostgreSQL then aborts one, which the flusher retries as an outage.)
CLAIM_NEW_KEYS = b"""
WITH claimed AS (
    INSERT INTO rating_keys (id, service, transaction_ref, received_at)
    SELECT id, service, transaction_ref, received_at FROM incoming ORDER BY id
    ON CONFLICT DO NOTHING
    RETURNING id
)
DELETE FROM incoming WHERE NOT EXISTS (SELECT 1 FROM claimed WHERE claimed.id = incoming.id)
"""

INSERT_RATINGS = (
    f"INSERT INTO ratings ({RATING_COLUMNS}, stored_at) "  # noqa: S608 (constants only)
    f"SELECT {RATING_COLUMNS.replace('answers', 'answers::json')}, %s FROM incoming"
).encode()

# What a rebuild reads from stored ratings: a comment purged for retention still counts
# as a comment (the rollups only test comment <> '').
_COMMENT_OR_PURGED = "CASE WHEN comment_purged_at IS NULL THEN comment ELSE 'purged' END"
REBUILD_COLUMNS = RATING_COLUMNS.replace("comment,", f"{_COMMENT_OR_PURGED} AS comment,", 1)
# The rebuild's source: a tenant's stored ratings with their local days.
REBUILD_SOURCE = (
    f"(SELECT {REBUILD_COLUMNS}, quarter_days.day FROM ratings "  # noqa: S608
    f"JOIN quarter_days ON quarter_days.quarter = ratings.received_at / {QUARTER_MILLISECONDS} "
    "WHERE ratings.service = ANY(%(services)s))"
)

_STARS = ", ".join(f"stars_{star}" for star in range(1, 6))
_ADD_STARS = ",\n    ".join(
    f"stars_{star} = rollup.stars_{star} + excluded.stars_{star}" for star in range(1, 6)
)


def _count(condition: str) -> str:
    return f"count(*) FILTER (WHERE {condition})"


_COUNT_STARS = ", ".join(_count(f"rating = {star}") for star in range(1, 6))
_COUNT_HUMAN_STARS = ", ".join(_count(f"NOT is_bot AND rating = {star}") for star in range(1, 6))


def _cube(source: str) -> str:
    # ORDER BY the conflict key: two transactions upserting overlapping rows lock them in
    # the same order, so they wait for each other instead of deadlocking.
    return f"""
INSERT INTO daily_rollups AS rollup (service, day, device_class, language, channel, is_bot,
    ratings, {_STARS}, comments, newest_received_at, answered, answer_seconds_sum)
SELECT service, day, device_class, language, channel, is_bot,
    count(*), {_COUNT_STARS}, {_count("comment <> ''")}, max(received_at),
    count(answer_seconds), coalesce(sum(answer_seconds), 0)
FROM {source} AS source
GROUP BY service, day, device_class, language, channel, is_bot
ORDER BY service, day, device_class, language, channel, is_bot
ON CONFLICT (service, day, device_class, language, channel, is_bot) DO UPDATE SET
    ratings = rollup.ratings + excluded.ratings,
    {_ADD_STARS},
    comments = rollup.comments + excluded.comments,
    newest_received_at = greatest(rollup.newest_received_at, excluded.newest_received_at),
    answered = rollup.answered + excluded.answered,
    answer_seconds_sum = rollup.answer_seconds_sum + excluded.answer_seconds_sum
"""  # noqa: S608 (only constants are interpolated)


def _answers(source: str) -> str:
    return f"""
INSERT INTO daily_answer_rollups AS rollup (service, day, question, answer, ratings)
SELECT source.service, source.day, answer.key, answer.value, count(*)
FROM {source} AS source, json_each_text(source.answers::json) AS answer
WHERE NOT source.is_bot  -- like the summary's star counts
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
ON CONFLICT (service, day, question, answer) DO UPDATE SET
    ratings = rollup.ratings + excluded.ratings
"""  # noqa: S608


def _service_days(source: str) -> str:
    # greatest() skips NULLs: a day with only bots or views has no newest rating.
    return f"""
INSERT INTO service_days AS rollup (service, day, ratings, {_STARS}, comments, answered,
    answer_seconds_sum, newest_received_at, bots)
SELECT service, day, {_count("NOT is_bot")}, {_COUNT_HUMAN_STARS},
    {_count("NOT is_bot AND comment <> ''")},
    {_count("NOT is_bot AND answer_seconds IS NOT NULL")},
    coalesce(sum(answer_seconds) FILTER (WHERE NOT is_bot), 0),
    max(received_at) FILTER (WHERE NOT is_bot), {_count("is_bot")}
FROM {source} AS source
GROUP BY service, day
ORDER BY service, day
ON CONFLICT (service, day) DO UPDATE SET
    ratings = rollup.ratings + excluded.ratings,
    {_ADD_STARS},
    comments = rollup.comments + excluded.comments,
    answered = rollup.answered + excluded.answered,
    answer_seconds_sum = rollup.answer_seconds_sum + excluded.answer_seconds_sum,
    newest_received_at = greatest(rollup.newest_received_at, excluded.newest_received_at),
    bots = rollup.bots + excluded.bots
"""  # noqa: S608


def _dimension_days(source: str) -> str:
    # One pass over the source, each rating unpivoted into one row per dimension.
    values = ", ".join(f"('{name}', source.{DIMENSIONS[name]})" for name in DIMENSION_DAYS)
    return f"""
INSERT INTO dimension_days AS rollup (service, dimension, day, value, ratings, {_STARS},
    answered, answer_seconds_sum)
SELECT source.service, dimension.name, source.day, dimension.value, count(*),
    {_COUNT_STARS}, count(answer_seconds), coalesce(sum(answer_seconds), 0)
FROM {source} AS source CROSS JOIN LATERAL (VALUES {values}) AS dimension (name, value)
WHERE NOT source.is_bot
    -- Office and operator come only with transaction tokens: no row for "none".
    AND (dimension.value <> '' OR dimension.name IN ('os', 'browser'))
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
ON CONFLICT (service, dimension, day, value) DO UPDATE SET
    ratings = rollup.ratings + excluded.ratings,
    {_ADD_STARS},
    answered = rollup.answered + excluded.answered,
    answer_seconds_sum = rollup.answer_seconds_sum + excluded.answer_seconds_sum
"""  # noqa: S608


def rollup_statements(source: str) -> tuple[bytes, ...]:
    """Every rollup's upsert of what `source` (a table or a subquery) holds."""
    return tuple(
        build(source).encode() for build in (_cube, _answers, _service_days, _dimension_days)
    )


ALL_UPSERTS = rollup_statements("incoming")
REBUILD_UPSERTS = rollup_statements(REBUILD_SOURCE)
ROLLUP_TABLES = ("daily_rollups", "daily_answer_rollups", "service_days", "dimension_days")

UPSERT_IMPRESSION_DAYS = b"""
INSERT INTO service_days AS rollup (service, day, impressions)
SELECT service, day, sum(views) FROM unnest(%s::text[], %s::date[], %s::bigint[])
    AS views (service, day, views)
GROUP BY service, day ORDER BY service, day
ON CONFLICT (service, day) DO UPDATE SET impressions = rollup.impressions + excluded.impressions
"""


async def service_zones(connection: Connection, services: Iterable[str]) -> dict[str, str]:
    """The time zone of each service's tenant (services without one are missing)."""
    cursor = await connection.execute(
        "SELECT services.slug, tenants.time_zone FROM services "
        "JOIN tenants ON tenants.id = services.tenant_id WHERE services.slug = ANY(%s)",
        (list(services),),
    )
    return {str(slug): str(zone) for slug, zone in await cursor.fetchall()}


# Months outside these years get no partition of their own (their rows go to the
# DEFAULT partition): a collector clock that far off is a bug, not a month to keep.
_FIRST_PARTITION_YEAR, _LAST_PARTITION_YEAR = 2000, 9999


def month_start(milliseconds: int) -> int | None:
    """The first millisecond of the UTC month, or None if it gets no partition."""
    try:
        moment = time.gmtime(milliseconds // 1000)
    except (OverflowError, OSError, ValueError):
        return None  # the row is then refused when its local day is computed
    if not _FIRST_PARTITION_YEAR <= moment.tm_year <= _LAST_PARTITION_YEAR:
        return None
    return calendar.timegm((moment.tm_year, moment.tm_mon, 1, 0, 0, 0)) * 1000


async def create_partitions(connection: Connection, months: Iterable[int]) -> None:
    """Create the ratings partition of each month (by its first millisecond) that does
    not exist yet, in its own transaction (connection in autocommit mode).

    Apart from store()'s transaction, so the lock that creating a partition takes on
    ratings is held for a moment, not while a batch is written.
    """
    async with connection.transaction():
        await connection.execute(advisory_lock(PARTITIONS_LOCK))
        for start in sorted(months):
            moment = time.gmtime(start // 1000)
            name = f"ratings_{moment.tm_year:04d}_{moment.tm_mon:02d}"
            cursor = await connection.execute("SELECT to_regclass(%s)", (name,))
            row = await cursor.fetchone()
            if row is not None and row[0] is not None:
                continue
            year, month = moment.tm_year, moment.tm_mon
            end_month = (year + 1, 1) if month == 12 else (year, month + 1)
            end = calendar.timegm((*end_month, 1, 0, 0, 0)) * 1000
            in_month = f"received_at >= {start} AND received_at < {end}"
            # Rows of the month already in the DEFAULT partition (written while the
            # partition was missing, e.g. after it was dropped) would make creating it
            # fail: they move into the new partition.
            cursor = await connection.execute(
                f"SELECT count(*) FROM ratings_default WHERE {in_month}".encode()  # noqa: S608
            )
            strays = await cursor.fetchone()
            if strays is not None and strays[0]:
                await connection.execute(
                    f"CREATE TEMP TABLE moving AS SELECT * FROM ratings_default "  # noqa: S608
                    f"WHERE {in_month}; DELETE FROM ratings_default WHERE {in_month}".encode()
                )
            await connection.execute(
                f"CREATE TABLE {name} PARTITION OF ratings "
                f"FOR VALUES FROM ({start}) TO ({end})".encode()
            )
            if strays is not None and strays[0]:
                await connection.execute(b"INSERT INTO ratings SELECT * FROM moving")
                await connection.execute(b"DROP TABLE moving")
