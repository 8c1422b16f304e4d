"""SQLite's retention: comments blanked once the service's retention period is over,
and a portal transaction's ratings erased on request, with the rollups of their local
days rebuilt in the same transaction."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from collector.local_days import UTC_NAME, day_function
from collector.storage.rollup_rows import rebuild_ranges, views_per_day, with_local_days
from collector.storage.sqlite_queries import write_transaction
from collector.storage.sqlite_rollups import (
    ALL_UPSERTS,
    REBUILD_COLUMNS,
    ROLLUP_TABLES,
    UPSERT_IMPRESSION_DAYS,
    fill_incoming,
    service_zones,
)

T = TypeVar("T")

# Through ratings_comments_by_time: only rows that still have a comment, oldest first.
_PURGE = """
UPDATE ratings SET comment = '', comment_purged_at = ?
WHERE id IN (SELECT id FROM ratings WHERE service = ? AND comment <> '' AND received_at < ?
             ORDER BY received_at LIMIT ?)
"""
_COUNT_COMMENTS = (
    "SELECT count(*) FROM ratings WHERE service = ? AND comment <> '' AND received_at < ?"
)


class SqliteRetention:
    """Mixed into SqliteStorage, which provides _run (a connection on its thread)."""

    async def _run(self, role: str, work: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def purge_comments(self, service: str, received_before: int, limit: int) -> int:
        def purge(connection: sqlite3.Connection) -> int:
            with write_transaction(connection):
                now = int(time.time() * 1000)
                cursor = connection.execute(_PURGE, (now, service, received_before, limit))
            return cursor.rowcount

        return await self._run("writer", purge)

    async def count_comments(self, service: str, received_before: int) -> int:
        def count(connection: sqlite3.Connection) -> int:
            row = connection.execute(_COUNT_COMMENTS, (service, received_before)).fetchone()
            return int(row[0])

        return await self._run("reader", count)

    async def erase_transaction(self, service: str, transaction: str) -> int:
        def erase(connection: sqlite3.Connection) -> int:
            with write_transaction(connection):
                found = connection.execute(
                    "SELECT id, received_at FROM ratings WHERE service = ? AND transaction_ref = ?",
                    (service, transaction),
                ).fetchall()
                if found:
                    connection.executemany(
                        "DELETE FROM ratings WHERE id = ?", [(row[0],) for row in found]
                    )
                    zone = service_zones(connection).get(service, UTC_NAME)
                    local_day = day_function(zone)
                    _rebuild_days(connection, service, zone, {local_day(row[1]) for row in found})
            return len(found)

        return await self._run("writer", erase)


def _rebuild_days(connection: sqlite3.Connection, service: str, zone: str, days: set[str]) -> None:
    """Recompute the service's rollups of these local days from raw ratings and views,
    as the full rebuild (set_tenant_time_zone) would."""
    for table in ROLLUP_TABLES:
        connection.executemany(
            f"DELETE FROM {table} WHERE service = ? AND day = ?",  # noqa: S608 (constants)
            [(service, day) for day in days],
        )
    ratings: dict[str, tuple[object, ...]] = {}
    quarters: dict[int, int] = {}
    for start, end in rebuild_ranges(days, zone):
        for row in connection.execute(
            f"SELECT {REBUILD_COLUMNS} FROM ratings "  # noqa: S608 (constants only)
            "WHERE service = ? AND received_at >= ? AND received_at < ?",
            (service, start, end),
        ):
            ratings[row[0]] = tuple(row)
        quarters.update(
            connection.execute(
                "SELECT quarter_start, impressions FROM impression_quarters "
                "WHERE service = ? AND quarter_start >= ? AND quarter_start < ?",
                (service, start, end),
            ).fetchall()
        )
    on_days = [
        row for row in with_local_days(list(ratings.values()), {service: zone}) if row[-1] in days
    ]
    fill_incoming(connection, on_days)
    for statement in ALL_UPSERTS:
        connection.execute(statement)
    views = views_per_day(quarters, zone, days)
    connection.executemany(
        UPSERT_IMPRESSION_DAYS, [(service, day, count) for day, count in views.items()]
    )
