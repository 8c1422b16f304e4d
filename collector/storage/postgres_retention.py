"""PostgreSQL's retention: comments blanked once the service's retention period is
over, and a portal transaction's ratings erased on request, with the rollups of their
local days rebuilt in the same transaction."""

from __future__ import annotations

import time
from contextlib import AbstractAsyncContextManager
from datetime import date

from collector.local_days import UTC_NAME, day_function
from collector.storage.postgres_rollups import (
    ALL_UPSERTS,
    COPY_INCOMING,
    INCOMING_TYPES,
    REBUILD_COLUMNS,
    ROLLUP_TABLES,
    UPSERT_IMPRESSION_DAYS,
    ZONES_LOCK,
    Connection,
    advisory_lock,
    service_zones,
)
from collector.storage.rollup_rows import rebuild_ranges, views_per_day, with_local_days

# Through ratings_comments_by_time: only rows that still have a comment, oldest first.
# The outer "comment <> ''" is checked again after a row lock wait, so two purges at
# once do not both count a row.
_PURGE = b"""
WITH doomed AS (
    SELECT id, received_at FROM ratings
    WHERE service = %(service)s AND comment <> '' AND received_at < %(before)s
    ORDER BY received_at LIMIT %(limit)s
)
UPDATE ratings SET comment = '', comment_purged_at = %(now)s
FROM doomed
WHERE ratings.service = %(service)s AND ratings.received_at = doomed.received_at
    AND ratings.id = doomed.id AND ratings.comment <> ''
"""
_COUNT_COMMENTS = (
    b"SELECT count(*) FROM ratings WHERE service = %s AND comment <> '' AND received_at < %s"
)
# The ids and transactions live in rating_keys (see 0001_initial.sql); received_at there
# finds the rating's month partition.
_DELETE_KEYS = b"""
DELETE FROM rating_keys WHERE service = %s AND transaction_ref = %s RETURNING id, received_at
"""
_DELETE_RATING = b"DELETE FROM ratings WHERE service = %s AND received_at = %s AND id = %s"
_SELECT_DAY_RATINGS = (
    f"SELECT {REBUILD_COLUMNS.replace('answers,', 'answers::text,')} FROM ratings "  # noqa: S608
    "WHERE service = %s AND received_at >= %s AND received_at < %s"
).encode()


class PostgresRetention:
    """Mixed into PostgresStorage, which provides _connection (from its pool)."""

    def _connection(self) -> AbstractAsyncContextManager[Connection]:
        raise NotImplementedError

    async def purge_comments(self, service: str, received_before: int, limit: int) -> int:
        parameters = {
            "service": service,
            "before": received_before,
            "limit": limit,
            "now": int(time.time() * 1000),
        }
        async with self._connection() as connection, connection.transaction():
            cursor = await connection.execute(_PURGE, parameters)
        return max(cursor.rowcount, 0)

    async def count_comments(self, service: str, received_before: int) -> int:
        async with self._connection() as connection:
            cursor = await connection.execute(_COUNT_COMMENTS, (service, received_before))
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def erase_transaction(self, service: str, transaction: str) -> int:
        async with self._connection() as connection, connection.transaction():
            # Exclusive, as for a time zone change: no batch is stored while the days
            # are rebuilt, so none is added to a rollup row the rebuild then replaces.
            await connection.execute(advisory_lock(ZONES_LOCK))
            cursor = await connection.execute(_DELETE_KEYS, (service, transaction))
            found = await cursor.fetchall()
            for rating_id, received_at in found:
                await connection.execute(_DELETE_RATING, (service, received_at, rating_id))
            if found:
                zone = (await service_zones(connection, [service])).get(service, UTC_NAME)
                local_day = day_function(zone)
                days = {local_day(received_at) for _, received_at in found}
                await _rebuild_days(connection, service, zone, days)
        return len(found)


async def _rebuild_days(connection: Connection, service: str, zone: str, days: set[str]) -> None:
    """Recompute the service's rollups of these local days from raw ratings and views,
    as the full rebuild (set_tenant_time_zone) would."""
    dates = sorted(date.fromisoformat(day) for day in days)
    for table in ROLLUP_TABLES:
        await connection.execute(
            f"DELETE FROM {table} WHERE service = %s AND day = ANY(%s)".encode(),  # noqa: S608
            (service, dates),
        )
    ratings: dict[str, tuple[object, ...]] = {}
    quarters: dict[int, int] = {}
    for start, end in rebuild_ranges(days, zone):
        cursor = await connection.execute(_SELECT_DAY_RATINGS, (service, start, end))
        for row in await cursor.fetchall():
            ratings[row[0]] = tuple(row)
        cursor = await connection.execute(
            "SELECT quarter_start, impressions FROM impression_quarters "
            "WHERE service = %s AND quarter_start >= %s AND quarter_start < %s",
            (service, start, end),
        )
        quarters.update(await cursor.fetchall())
    # The staging table empties at every commit; this transaction filled nothing yet.
    async with connection.cursor().copy(COPY_INCOMING) as copy:
        copy.set_types(INCOMING_TYPES)
        for *values, day in with_local_days(list(ratings.values()), {service: zone}):
            if day in days:
                await copy.write_row((*values, date.fromisoformat(str(day))))
    for statement in ALL_UPSERTS:
        await connection.execute(statement)
    views = views_per_day(quarters, zone, days)
    if views:
        await connection.execute(
            UPSERT_IMPRESSION_DAYS,
            (
                [service] * len(views),
                [date.fromisoformat(day) for day in views],
                list(views.values()),
            ),
        )
