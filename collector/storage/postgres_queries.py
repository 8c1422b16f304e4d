"""PostgreSQL's analytics: figures from the rollups, comments from raw rows, impressions,
and the rebuild of a tenant's rollups when its time zone changes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any

from collector.local_days import UTC_NAME, day_function
from collector.storage.base import (
    DIMENSIONS,
    CommentQuery,
    Interval,
    PeriodFigures,
    RatingRow,
    SummaryFigures,
)
from collector.storage.postgres_rollups import (
    QUARTER_MILLISECONDS,
    RATING_COLUMNS,
    REBUILD_UPSERTS,
    ROLLUP_TABLES,
    UPSERT_IMPRESSION_DAYS,
    ZONES_LOCK,
    Connection,
    advisory_lock,
    service_zones,
)
from collector.storage.rollup_rows import CUBE_DIMENSIONS

_FIGURES = (
    "coalesce(sum(ratings), 0)::bigint, coalesce(sum(stars_1), 0)::bigint, "
    "coalesce(sum(stars_2), 0)::bigint, coalesce(sum(stars_3), 0)::bigint, "
    "coalesce(sum(stars_4), 0)::bigint, coalesce(sum(stars_5), 0)::bigint, "
    "max(newest_received_at), coalesce(sum(answered), 0)::bigint, "
    "coalesce(sum(answer_seconds_sum), 0)::bigint, coalesce(sum(comments), 0)::bigint, "
    "coalesce(sum(impressions), 0)::bigint, coalesce(sum(bots), 0)::bigint"
)
_DIMENSION_FIGURES = (
    "sum(ratings)::bigint, sum(stars_1)::bigint, sum(stars_2)::bigint, sum(stars_3)::bigint, "
    "sum(stars_4)::bigint, sum(stars_5)::bigint, NULL::bigint, sum(answered)::bigint, "
    "sum(answer_seconds_sum)::bigint, 0, 0, 0"
)
# The first day of the period a local day falls in; date_trunc's weeks start on Monday,
# as ISO weeks do. Cast to timestamp (without zone) first, or date_trunc would pick its
# timestamptz form and the session's time zone could move a midnight to the day before.
_PERIOD_START: dict[str, str] = {
    "day": "day",
    "week": "date_trunc('week', day::timestamp)::date",
    "month": "date_trunc('month', day::timestamp)::date",
}
# pg_c_utf8 (PostgreSQL 17+) folds case by Unicode's rules whatever the database's
# locale; under a database created with LC_CTYPE=C, ILIKE alone folds ASCII only.
_UNICODE_COLLATION_VERSION = 170000
# Applied impression batch ids kept for this long: far longer than a batch can stay
# pending in Redis.
_KEEP_IMPRESSION_BATCHES_MILLISECONDS = 7 * 86_400_000
_SELECT_RATINGS = RATING_COLUMNS.replace("answers", "answers::text")


def _bounds(first_day: date | None, last_day: date | None) -> tuple[date, date]:
    return first_day or date.min, last_day or date.max


def _figures(
    row: Sequence[Any], answers: dict[str, dict[str, int]] | None = None
) -> SummaryFigures:
    return SummaryFigures(
        count=row[0],
        stars=(row[1], row[2], row[3], row[4], row[5]),
        newest_received_at=row[6],
        answers=answers or {},
        answered=row[7],
        answer_seconds_sum=row[8],
        comments=row[9],
        impressions=row[10],
        bots=row[11],
    )


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class PostgresAnalytics:
    """Mixed into PostgresStorage, which provides _connection (from its pool)."""

    def _connection(self) -> AbstractAsyncContextManager[Connection]:
        raise NotImplementedError

    async def _fetch(self, sql: str, parameters: Sequence[object]) -> list[tuple[Any, ...]]:
        async with self._connection() as connection:
            cursor = await connection.execute(sql.encode(), parameters)
            return await cursor.fetchall()

    async def summary(
        self, service: str, first_day: date | None, last_day: date | None
    ) -> SummaryFigures:
        first, last = _bounds(first_day, last_day)
        async with self._connection() as connection:
            cursor = await connection.execute(
                f"SELECT {_FIGURES} FROM service_days "  # noqa: S608 (constants only)
                "WHERE service = %s AND day BETWEEN %s AND %s".encode(),
                (service, first, last),
            )
            row = await cursor.fetchone()
            cursor = await connection.execute(
                """SELECT question, answer, sum(ratings)::bigint FROM daily_answer_rollups
                   WHERE service = %s AND day BETWEEN %s AND %s
                   GROUP BY question, answer ORDER BY question, answer""",
                (service, first, last),
            )
            answers: dict[str, dict[str, int]] = {}
            for question, answer, count in await cursor.fetchall():
                answers.setdefault(question, {})[answer] = count
        assert row is not None  # an aggregate without GROUP BY returns one row
        return _figures(row, answers)

    async def totals(
        self, services: Sequence[str], first_day: date | None, last_day: date | None
    ) -> dict[str, SummaryFigures]:
        first, last = _bounds(first_day, last_day)
        rows = await self._fetch(
            f"SELECT service, {_FIGURES} FROM service_days "  # noqa: S608
            "WHERE service = ANY(%s) AND day BETWEEN %s AND %s GROUP BY service",
            (list(dict.fromkeys(services)), first, last),
        )
        return {row[0]: _figures(row[1:]) for row in rows}

    async def time_series(
        self, service: str, first_day: date, last_day: date, interval: Interval
    ) -> list[PeriodFigures]:
        rows = await self._fetch(
            f"SELECT {_PERIOD_START[interval]} AS period, {_FIGURES} "  # noqa: S608
            "FROM service_days WHERE service = %s AND day BETWEEN %s AND %s "
            "GROUP BY period ORDER BY period",
            (service, first_day, last_day),
        )
        return [PeriodFigures(row[0].isoformat(), _figures(row[1:])) for row in rows]

    async def breakdown(
        self, service: str, dimension: str, first_day: date | None, last_day: date | None
    ) -> list[PeriodFigures]:
        if dimension not in DIMENSIONS:
            raise ValueError(f"no dimension {dimension!r}")
        first, last = _bounds(first_day, last_day)
        if dimension in CUBE_DIMENSIONS:
            column = DIMENSIONS[dimension]
            sql = (
                f"SELECT {column}, {_DIMENSION_FIGURES} FROM daily_rollups "  # noqa: S608
                "WHERE service = %s AND NOT is_bot AND day BETWEEN %s AND %s "
                f"GROUP BY {column} ORDER BY sum(ratings) DESC, {column}"
            )
            parameters: tuple[object, ...] = (service, first, last)
        else:
            sql = (
                f"SELECT value, {_DIMENSION_FIGURES} FROM dimension_days "  # noqa: S608
                "WHERE service = %s AND dimension = %s AND day BETWEEN %s AND %s "
                "GROUP BY value ORDER BY sum(ratings) DESC, value"
            )
            parameters = (service, dimension, first, last)
        rows = await self._fetch(sql, parameters)
        return [PeriodFigures(row[0], _figures(row[1:])) for row in rows]

    async def comments(self, query: CommentQuery) -> list[RatingRow]:
        if not query.services:
            return []
        conditions = ["service = ANY(%s)"]
        parameters: list[object] = [list(query.services)]
        if query.with_comment:
            conditions.append("comment <> ''")
        if not query.include_bots:
            conditions.append("NOT is_bot")
        if query.minimum_rating > 1 or query.maximum_rating < 5:
            conditions.append("rating BETWEEN %s AND %s")
            parameters += [query.minimum_rating, query.maximum_rating]
        if query.received_from is not None:
            conditions.append("received_at >= %s")
            parameters.append(query.received_from)
        if query.received_before is not None:
            conditions.append("received_at < %s")
            parameters.append(query.received_before)
        if query.language:
            conditions.append("language = %s")
            parameters.append(query.language)
        if query.lowest_first:
            order = "rating ASC, received_at DESC, id DESC"
            if query.after is not None:
                rating, received_at, last_id = query.after
                conditions.append("(rating > %s OR (rating = %s AND (received_at, id) < (%s, %s)))")
                parameters += [rating, rating, received_at, last_id]
        else:
            order = "received_at DESC, id DESC"
            if query.after is not None:
                _, received_at, last_id = query.after
                conditions.append("(received_at, id) < (%s, %s)")
                parameters += [received_at, last_id]

        async with self._connection() as connection:
            if query.text:
                # ILIKE's escape character is the backslash, as _like_pattern assumes.
                collation = (
                    " COLLATE pg_c_utf8"
                    if connection.info.server_version >= _UNICODE_COLLATION_VERSION
                    else ""
                )
                conditions.append(f"comment ILIKE %s{collation}")
                parameters.append(_like_pattern(query.text))
            sql = (
                f"SELECT {_SELECT_RATINGS} FROM ratings "  # noqa: S608 (constants and %s)
                f"WHERE {' AND '.join(conditions)} ORDER BY {order} LIMIT %s"
            )
            parameters.append(query.limit)
            cursor = await connection.execute(sql.encode(), parameters)
            rows = await cursor.fetchall()
        return [
            RatingRow(
                id=row[0],
                service=row[1],
                rating=row[2],
                comment=row[3],
                language=row[4],
                channel=row[5],
                received_at=row[6],
                device_class=row[7],
                os_family=row[8],
                browser_family=row[9],
                is_bot=row[10],
                answers=row[11],
                transaction_ref=row[12],
                office=row[13],
                operator=row[14],
                answer_seconds=row[15],
            )
            for row in rows
        ]

    async def store_impressions(
        self, batch_id: str, counts: Sequence[tuple[str, int, int]]
    ) -> bool:
        now = int(time.time() * 1000)
        async with self._connection() as connection, connection.transaction():
            await connection.execute(advisory_lock(ZONES_LOCK, shared=True))
            applied = await connection.execute(
                "INSERT INTO impression_batches (id, applied_at) VALUES (%s, %s) "
                "ON CONFLICT (id) DO NOTHING",
                (batch_id, now),
            )
            if not applied.rowcount:
                return False
            await _add_impressions(connection, counts)
            await connection.execute(
                "DELETE FROM impression_batches WHERE applied_at < %s",
                (now - _KEEP_IMPRESSION_BATCHES_MILLISECONDS,),
            )
        return True

    async def set_tenant_time_zone(self, tenant_id: str, time_zone: str) -> bool:
        async with self._connection() as connection, connection.transaction():
            # Exclusive: no batch is stored while the rollups are rebuilt, so none is
            # counted in the old zone after the rebuild read the raw ratings.
            await connection.execute(advisory_lock(ZONES_LOCK))
            changed = await connection.execute(
                "UPDATE tenants SET time_zone = %s WHERE id = %s", (time_zone, tenant_id)
            )
            cursor = await connection.execute(
                "SELECT slug FROM services WHERE tenant_id = %s", (tenant_id,)
            )
            services = [row[0] for row in await cursor.fetchall()]
            if services:
                await _rebuild(connection, services, time_zone)
        return bool(changed.rowcount)


async def _add_impressions(connection: Connection, counts: Sequence[tuple[str, int, int]]) -> None:
    if not counts:
        return
    services, quarters, views = (list(column) for column in zip(*counts, strict=True))
    await connection.execute(
        """INSERT INTO impression_quarters AS stored (service, quarter_start, impressions)
           SELECT service, quarter_start, sum(views)
           FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS views
               (service, quarter_start, views)
           GROUP BY service, quarter_start ORDER BY service, quarter_start
           ON CONFLICT (service, quarter_start)
           DO UPDATE SET impressions = stored.impressions + excluded.impressions""",
        (services, quarters, views),
    )
    zones = await service_zones(connection, set(services))
    days = [
        day_function(zones.get(service, UTC_NAME))(quarter_start)
        for service, quarter_start in zip(services, quarters, strict=True)
    ]
    await connection.execute(UPSERT_IMPRESSION_DAYS, (services, days, views))


async def _rebuild(connection: Connection, services: list[str], time_zone: str) -> None:
    """Recompute the services' rollups in the zone, from their raw ratings and views."""
    for table in ROLLUP_TABLES:
        await connection.execute(
            f"DELETE FROM {table} WHERE service = ANY(%s)".encode(),  # noqa: S608
            (services,),
        )
    # Every zone's days start on a UTC quarter hour: one local day per quarter in which
    # something happened, then SQL joins each rating and view to its quarter's day.
    cursor = await connection.execute(
        "SELECT received_at / %(quarter)s FROM ratings WHERE service = ANY(%(services)s) "
        "UNION SELECT quarter_start / %(quarter)s FROM impression_quarters "
        "WHERE service = ANY(%(services)s)",
        {"quarter": QUARTER_MILLISECONDS, "services": services},
    )
    local_day = day_function(time_zone)
    async with connection.cursor().copy(b"COPY quarter_days FROM STDIN") as copy:
        for (quarter,) in await cursor.fetchall():
            await copy.write_row((quarter, local_day(quarter * QUARTER_MILLISECONDS)))
    for statement in REBUILD_UPSERTS:
        await connection.execute(statement, {"services": services})
    await connection.execute(
        """INSERT INTO service_days AS rollup (service, day, impressions)
           SELECT views.service, quarter_days.day, sum(views.impressions)
           FROM impression_quarters AS views
           JOIN quarter_days ON quarter_days.quarter = views.quarter_start / %s
           WHERE views.service = ANY(%s)
           GROUP BY 1, 2 ORDER BY 1, 2
           ON CONFLICT (service, day)
           DO UPDATE SET impressions = rollup.impressions + excluded.impressions""",
        (QUARTER_MILLISECONDS, services),
    )
