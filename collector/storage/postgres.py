"""PostgreSQL storage (psycopg 3, async), chosen by DATABASE_URL=postgresql://...

A pool of up to four connections, opened on first use. A batch is copied (COPY, binary)
into a temporary staging table, its keys claimed with INSERT ... ON CONFLICT DO NOTHING,
and only the new rows go on to the month-partitioned ratings table and the rollups, all
in one transaction: the flusher acknowledges the batch to Redis after COMMIT returns,
with synchronous_commit left at its default (on), so a committed batch is on disk.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from collector.messages import StoredRating
from collector.sealed_secrets import SecretSealer
from collector.services import CONFIG_ENCODER, Service, Tenant
from collector.settings import postgres_url_problem
from collector.storage.base import RecordRejected, StorageError, StorageUnavailable
from collector.storage.postgres_migrations import migrate
from collector.storage.postgres_queries import PostgresAnalytics
from collector.storage.postgres_retention import PostgresRetention
from collector.storage.postgres_rollups import (
    ALL_UPSERTS,
    CLAIM_NEW_KEYS,
    COPY_INCOMING,
    CREATE_STAGING,
    INCOMING_TYPES,
    INSERT_RATINGS,
    ZONES_LOCK,
    Connection,
    advisory_lock,
    create_partitions,
    month_start,
    service_zones,
)
from collector.storage.postgres_signing_keys import PostgresSigningKeys
from collector.storage.rollup_rows import rating_values, with_local_days
from collector.stored_config import decode_stored_config

_MAXIMUM_CONNECTIONS = 4
_DAY_MILLISECONDS = 86_400_000
# How long a call waits for a connection before it reports storage unavailable: the
# flusher then keeps its batch pending and tries again.
_WAIT_SECONDS = 5.0
# SQLSTATE classes that mean "this data is refused": data exceptions (a value out of
# range, text with NUL, bad JSON), integrity constraints, and program limits (an index
# row too large). Every other failure (connection lost, server shutting down,
# serialization failure or deadlock, timeout, disk full) means "storage cannot work now".
_DATA_REFUSED_CLASSES = ("22", "23", "54")


def _classify(error: psycopg.Error) -> StorageError:
    state = error.sqlstate or ""
    if isinstance(error, psycopg.DataError | psycopg.IntegrityError) or state.startswith(
        _DATA_REFUSED_CLASSES
    ):
        return RecordRejected(f"PostgreSQL: {error}")
    return StorageUnavailable(f"PostgreSQL: {error}")


async def _prepare_connection(connection: Connection) -> None:
    await connection.execute(CREATE_STAGING)


class PostgresStorage(PostgresAnalytics, PostgresRetention, PostgresSigningKeys):
    def __init__(
        self,
        url: str,
        *,
        maximum_connections: int = _MAXIMUM_CONNECTIONS,
        wait_seconds: float = _WAIT_SECONDS,
        sealer: SecretSealer | None = None,
    ) -> None:
        """sealer: seals and opens the portals' HS256 secrets; without it they can be
        neither stored nor read (and migrate leaves them as they are)."""
        self._sealer = sealer
        problem = postgres_url_problem(url)
        if problem:
            raise ValueError(f"DATABASE_URL: {problem}")
        parameters = conninfo_to_dict(url)
        options: dict[str, object] = {"autocommit": True}
        if "application_name" not in parameters:
            options["application_name"] = "civic-feedback"  # in pg_stat_activity
        self._pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=maximum_connections,
            open=False,
            # Autocommit, with explicit transaction blocks: nothing is left open by a
            # read, and each block commits or rolls back where it ends.
            kwargs=options,
            configure=_prepare_connection,
            # A connection the server dropped while idle (a restart, a failover) is
            # replaced before use instead of failing the next call.
            check=AsyncConnectionPool.check_connection,
            timeout=wait_seconds,
            name="civic-feedback",
        )
        self._opened = False
        # Month partitions known to exist: checked once per process and month.
        self._partitions: set[int] = set()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        """A pooled connection; psycopg's errors come out as StorageError."""
        try:
            if not self._opened:
                # wait=False: an unreachable server is reported by the first call, after
                # wait_seconds, as StorageUnavailable rather than at start-up.
                await self._pool.open(wait=False)
                self._opened = True
            async with self._pool.connection() as connection:
                yield connection
        except psycopg.Error as error:
            raise _classify(error) from error
        except (OverflowError, ValueError, TypeError) as error:
            # psycopg could not send a value (e.g. an integer over 64 bits).
            raise RecordRejected(f"PostgreSQL cannot store a value: {error}") from error

    async def migrate(self) -> None:
        async with self._connection() as connection:
            await migrate(connection)
            await self._reseal_signing_keys(connection)

    async def store(self, ratings: Sequence[StoredRating]) -> int:
        if not ratings:
            return 0
        # The first of each id, as SQLite's INSERT OR IGNORE into its staging table.
        first_of_id: dict[str, StoredRating] = {}
        for r in ratings:
            first_of_id.setdefault(r.id, r)
        unique = list(first_of_id.values())
        rows = [rating_values(r) for r in unique]
        # Per UTC day, not per row: a batch spans a few minutes.
        utc_days = {r.received_at // _DAY_MILLISECONDS for r in unique}
        months = {
            month for day in utc_days if (month := month_start(day * _DAY_MILLISECONDS))
        } - self._partitions
        async with self._connection() as connection:
            if months:
                await create_partitions(connection, months)
                self._partitions.update(months)
            async with connection.transaction():
                await connection.execute(advisory_lock(ZONES_LOCK, shared=True))
                zones = await service_zones(connection, {r.service for r in unique})
                days: dict[str, date] = {}
                async with connection.cursor().copy(COPY_INCOMING) as copy:
                    copy.set_types(INCOMING_TYPES)
                    for *row, day in with_local_days(rows, zones):
                        local_day = days.get(str(day))
                        if local_day is None:
                            local_day = days[str(day)] = date.fromisoformat(str(day))
                        await copy.write_row((*row, local_day))
                await connection.execute(CLAIM_NEW_KEYS)
                inserted = await connection.execute(INSERT_RATINGS, (int(time.time() * 1000),))
                for statement in ALL_UPSERTS:
                    await connection.execute(statement)
        return inserted.rowcount

    async def count_ratings(self, service: str | None = None) -> int:
        async with self._connection() as connection:
            if service is None:
                cursor = await connection.execute("SELECT count(*) FROM ratings")
            else:
                cursor = await connection.execute(
                    "SELECT count(*) FROM ratings WHERE service = %s", (service,)
                )
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def save_tenant(self, tenant_id: str, name: str) -> None:
        async with self._connection() as connection:
            await connection.execute(
                "INSERT INTO tenants (id, name, created_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                (tenant_id, name, int(time.time())),
            )

    async def save_service(self, service: Service) -> None:
        async with self._connection() as connection:
            await connection.execute(
                """INSERT INTO services
                       (slug, tenant_id, name, default_language, config, created_at)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (slug) DO UPDATE SET tenant_id = excluded.tenant_id,
                       name = excluded.name, default_language = excluded.default_language,
                       config = excluded.config""",
                (
                    service.slug,
                    service.tenant_id,
                    service.name,
                    service.default_language,
                    CONFIG_ENCODER.encode(service.config).decode(),
                    int(time.time()),
                ),
            )

    async def list_services(self) -> list[Service]:
        async with self._connection() as connection:
            cursor = await connection.execute(
                "SELECT slug, tenant_id, name, default_language, config FROM services ORDER BY slug"
            )
            rows = await cursor.fetchall()
        return [
            Service(
                slug=str(row[0]),
                tenant_id=str(row[1]),
                name=str(row[2]),
                default_language=str(row[3]),
                config=config,
            )
            for row in rows
            if (config := decode_stored_config(str(row[0]), str(row[4]))) is not None
        ]

    async def list_tenants(self) -> list[Tenant]:
        async with self._connection() as connection:
            cursor = await connection.execute("SELECT id, name, time_zone FROM tenants ORDER BY id")
            rows = await cursor.fetchall()
        return [Tenant(str(row[0]), str(row[1]), str(row[2])) for row in rows]

    async def ping(self) -> None:
        async with self._connection() as connection:
            await connection.execute("SELECT 1")

    async def close(self) -> None:
        await self._pool.close()
