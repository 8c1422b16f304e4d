"""SQLite's rollup statements: the batch in temp.incoming added to every rollup table.

Each statement adds only what temp.incoming holds, so the flusher (one batch) and a
rebuild (a service's stored ratings, a chunk at a time) share them. Days are the
tenant's local days, computed in Python (collector/local_days.py) before rows reach
temp.incoming.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from collector.storage.base import DIMENSIONS
from collector.storage.rollup_rows import DIMENSION_DAYS

RATING_COLUMNS = (
    "id, service, rating, comment, language, channel, received_at, device_class, "
    "os_family, browser_family, is_bot, answers, transaction_ref, office, operator, "
    "answer_seconds"
)
# What a rebuild reads from stored ratings into temp.incoming: a comment purged for
# retention still counts as a comment (the rollups only test comment <> '').
_COMMENT_OR_PURGED = "CASE WHEN comment_purged_at IS NULL THEN comment ELSE 'purged' END"
REBUILD_COLUMNS = RATING_COLUMNS.replace("comment,", f"{_COMMENT_OR_PURGED} AS comment,", 1)
# The batch being stored, per connection: set-based SQL then inserts only the ratings
# not stored yet and adds exactly those to the rollups.
_CREATE_INCOMING = """
CREATE TEMP TABLE IF NOT EXISTS incoming (
    id TEXT PRIMARY KEY, service TEXT, rating INTEGER, comment TEXT, language TEXT,
    channel TEXT, received_at INTEGER, device_class TEXT,
    os_family TEXT, browser_family TEXT, is_bot INTEGER, answers TEXT,
    transaction_ref TEXT, office TEXT, operator TEXT, answer_seconds INTEGER, day TEXT
)
"""
_INDEX_INCOMING = """
CREATE INDEX IF NOT EXISTS temp.incoming_by_transaction ON incoming (service, transaction_ref)
"""

_STARS = ", ".join(f"stars_{star}" for star in range(1, 6))
_HUMAN_STARS = ", ".join(f"sum(is_bot = 0 AND rating = {star})" for star in range(1, 6))
_ADD_STARS = ",\n    ".join(
    f"stars_{star} = stars_{star} + excluded.stars_{star}" for star in range(1, 6)
)

# Per device class, language, channel and bot flag: the cube the first summary API read.
UPSERT_CUBE = f"""
INSERT INTO main.daily_rollups (service, day, device_class, language, channel, is_bot,
    ratings, {_STARS}, comments, newest_received_at, answered, answer_seconds_sum)
SELECT service, day, device_class, language, channel, is_bot,
    count(*), sum(rating = 1), sum(rating = 2), sum(rating = 3), sum(rating = 4),
    sum(rating = 5), sum(comment <> ''), max(received_at),
    count(answer_seconds), coalesce(sum(answer_seconds), 0)
FROM temp.incoming WHERE true
GROUP BY service, day, device_class, language, channel, is_bot
ON CONFLICT (service, day, device_class, language, channel, is_bot) DO UPDATE SET
    ratings = ratings + excluded.ratings,
    {_ADD_STARS},
    comments = comments + excluded.comments,
    newest_received_at = max(newest_received_at, excluded.newest_received_at),
    answered = answered + excluded.answered,
    answer_seconds_sum = answer_seconds_sum + excluded.answer_seconds_sum
"""  # noqa: S608 (only constants are interpolated)

UPSERT_ANSWERS = """
INSERT INTO main.daily_answer_rollups (service, day, question, answer, ratings)
SELECT incoming.service, incoming.day, answer.key, answer.value, count(*)
FROM temp.incoming AS incoming, json_each(incoming.answers) AS answer
WHERE incoming.is_bot = 0  -- like the summary's star counts
GROUP BY incoming.service, incoming.day, answer.key, answer.value
ON CONFLICT (service, day, question, answer) DO UPDATE SET
    ratings = ratings + excluded.ratings
"""

# newest_received_at is NULL on a day with only bots or only views: max(NULL, x) is
# NULL in SQLite, hence the CASE.
UPSERT_SERVICE_DAYS = f"""
INSERT INTO main.service_days (service, day, ratings, {_STARS}, comments, answered,
    answer_seconds_sum, newest_received_at, bots)
SELECT service, day, sum(is_bot = 0), {_HUMAN_STARS}, sum(is_bot = 0 AND comment <> ''),
    sum(is_bot = 0 AND answer_seconds IS NOT NULL),
    coalesce(sum(CASE WHEN is_bot = 0 THEN answer_seconds END), 0),
    max(CASE WHEN is_bot = 0 THEN received_at END), sum(is_bot)
FROM temp.incoming WHERE true
GROUP BY service, day
ON CONFLICT (service, day) DO UPDATE SET
    ratings = ratings + excluded.ratings,
    {_ADD_STARS},
    comments = comments + excluded.comments,
    answered = answered + excluded.answered,
    answer_seconds_sum = answer_seconds_sum + excluded.answer_seconds_sum,
    newest_received_at = CASE
        WHEN excluded.newest_received_at > coalesce(newest_received_at, 0)
        THEN excluded.newest_received_at ELSE newest_received_at END,
    bots = bots + excluded.bots
"""  # noqa: S608


def _dimension_select(dimension: str, column: str) -> str:
    # Office and operator come only with transaction tokens: no row for "none".
    skip_empty = f" AND {column} <> ''" if dimension in ("office", "operator") else ""
    return (
        f"SELECT service, '{dimension}', day, {column}, count(*), sum(rating = 1), "  # noqa: S608
        "sum(rating = 2), sum(rating = 3), sum(rating = 4), sum(rating = 5), "
        "count(answer_seconds), coalesce(sum(answer_seconds), 0) "
        f"FROM temp.incoming WHERE is_bot = 0{skip_empty} GROUP BY service, day, {column}"
    )


UPSERT_DIMENSION_DAYS = f"""
INSERT INTO main.dimension_days (service, dimension, day, value, ratings, {_STARS},
    answered, answer_seconds_sum)
{" UNION ALL ".join(_dimension_select(name, DIMENSIONS[name]) for name in DIMENSION_DAYS)}
ON CONFLICT (service, dimension, day, value) DO UPDATE SET
    ratings = ratings + excluded.ratings,
    {_ADD_STARS},
    answered = answered + excluded.answered,
    answer_seconds_sum = answer_seconds_sum + excluded.answer_seconds_sum
"""

ALL_UPSERTS = (UPSERT_CUBE, UPSERT_ANSWERS, UPSERT_SERVICE_DAYS, UPSERT_DIMENSION_DAYS)

ROLLUP_TABLES = ("daily_rollups", "daily_answer_rollups", "service_days", "dimension_days")

UPSERT_IMPRESSION_DAYS = """
INSERT INTO main.service_days (service, day, impressions) VALUES (?, ?, ?)
ON CONFLICT (service, day) DO UPDATE SET impressions = impressions + excluded.impressions
"""


def service_zones(connection: sqlite3.Connection) -> dict[str, str]:
    return dict(
        connection.execute(
            "SELECT services.slug, tenants.time_zone FROM services "
            "JOIN tenants ON tenants.id = services.tenant_id"
        ).fetchall()
    )


def fill_incoming(connection: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    connection.execute(_CREATE_INCOMING)
    connection.execute(_INDEX_INCOMING)
    connection.execute("DELETE FROM temp.incoming")
    if rows:
        placeholders = ", ".join("?" * len(rows[0]))
        sql = f"INSERT OR IGNORE INTO temp.incoming VALUES ({placeholders})"  # noqa: S608
        connection.executemany(sql, rows)
