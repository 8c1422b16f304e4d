"""SQLite storage: the embedded default (WAL, synchronous=FULL).

sqlite3 blocks, so each connection lives on its own thread: one writer (the flusher's
batches), one reader (analytics), which WAL lets run side by side. synchronous=FULL
because the flusher acknowledges a batch to Redis right after COMMIT returns: a commit
that a power cut could undo would lose ratings.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from collector.messages import StoredRating
from collector.sealed_secrets import SecretSealer
from collector.services import CONFIG_ENCODER, Service, Tenant
from collector.storage.base import (
    RecordRejected,
    StorageUnavailable,
)
from collector.storage.rollup_rows import rating_values, with_local_days
from collector.storage.sqlite_migrations import migrate
from collector.storage.sqlite_queries import AnalyticsQueries
from collector.storage.sqlite_retention import SqliteRetention
from collector.storage.sqlite_rollups import (
    ALL_UPSERTS,
    RATING_COLUMNS,
    fill_incoming,
    service_zones,
)
from collector.storage.sqlite_signing_keys import SqliteSigningKeys, reseal_signing_keys
from collector.stored_config import decode_stored_config

T = TypeVar("T")

_BUSY_TIMEOUT_MILLISECONDS = 10_000
_READER_CACHE_KIBIBYTES = 16 * 1024
# The flusher appends in arrival order and its misses are reads from the OS page cache:
# 1 MB flushes a million entries as fast as 16 MB did, and 16 MB was +18 MB of RSS.
_WRITER_CACHE_KIBIBYTES = 1024
# One rating per transaction: drop the batch's ratings for a transaction already
# stored, and all but the first (lowest id, so earliest) of a transaction sent twice.
_DROP_REPEATED_TRANSACTIONS = """
DELETE FROM temp.incoming WHERE transaction_ref IS NOT NULL AND (
    EXISTS (SELECT 1 FROM main.ratings AS stored
            WHERE stored.service = incoming.service
              AND stored.transaction_ref = incoming.transaction_ref)
    OR id > (SELECT min(other.id) FROM temp.incoming AS other
             WHERE other.service = incoming.service
               AND other.transaction_ref = incoming.transaction_ref))
"""


def sqlite_path(url: str) -> Path:
    """sqlite:///relative/path.db or sqlite:////absolute/path.db."""
    return Path(url.removeprefix("sqlite:///"))


# Result codes that mean "this data is refused"; every other failure (locked, full,
# read-only, corrupt, not a database, closed) means "storage cannot work now": the
# flusher then keeps the batch pending and retries, instead of dead-lettering ratings.
_DATA_REFUSED_CODES = frozenset(
    {
        sqlite3.SQLITE_CONSTRAINT,
        sqlite3.SQLITE_MISMATCH,
        sqlite3.SQLITE_TOOBIG,
        sqlite3.SQLITE_RANGE,
    }
)


def _classify(error: sqlite3.Error) -> Exception:
    code = getattr(error, "sqlite_errorcode", None)
    primary_code = code & 0xFF if isinstance(code, int) else None
    if primary_code in _DATA_REFUSED_CODES or isinstance(
        error, sqlite3.IntegrityError | sqlite3.DataError | sqlite3.InterfaceError
    ):
        return RecordRejected(f"SQLite: {error}")
    return StorageUnavailable(f"SQLite: {error}")


class SqliteStorage(AnalyticsQueries, SqliteRetention, SqliteSigningKeys):
    def __init__(
        self,
        path: Path,
        busy_timeout_milliseconds: int = _BUSY_TIMEOUT_MILLISECONDS,
        *,
        sealer: SecretSealer | None = None,
    ):
        """sealer: seals and opens the portals' HS256 secrets; without it they can be
        neither stored nor read (and migrate leaves them as they are)."""
        self._path = path
        self._sealer = sealer
        self._busy_timeout = busy_timeout_milliseconds
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-reader")
        self._connections: dict[str, sqlite3.Connection] = {}

    def _connection(self, role: str) -> sqlite3.Connection:
        connection = self._connections.get(role)
        if connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self._path, isolation_level=None)
            connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout)}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            # With ratings stored at random times, 2 MB of cache slowed the flusher from
            # 22,000 rows/s to 15,000; the collector writes them in arrival order.
            kibibytes = _WRITER_CACHE_KIBIBYTES if role == "writer" else _READER_CACHE_KIBIBYTES
            connection.execute(f"PRAGMA cache_size = -{kibibytes}")
            connection.execute("PRAGMA temp_store = MEMORY")
            if role == "writer":
                # What is deleted or overwritten (a dropped column, purged comments,
                # erased ratings) is zeroed, not left readable in the file's free space.
                # Some builds of SQLite do this by default, not all.
                connection.execute("PRAGMA main.secure_delete = ON")
            self._connections[role] = connection
        return connection

    async def _run(self, role: str, work: Callable[[sqlite3.Connection], T]) -> T:
        executor = self._writer if role == "writer" else self._reader

        def call() -> T:
            try:
                return work(self._connection(role))
            except sqlite3.Error as error:
                raise _classify(error) from error
            except (OverflowError, ValueError, TypeError) as error:
                # The driver could not bind a value (e.g. an integer over 64 bits).
                raise RecordRejected(f"SQLite cannot store a value: {error}") from error

        return await asyncio.get_running_loop().run_in_executor(executor, call)

    async def migrate(self) -> None:
        def work(connection: sqlite3.Connection) -> None:
            changed = migrate(connection)
            if reseal_signing_keys(connection, self._sealer) or changed:
                # Rows rewritten (by a migration, or secrets sealed) left their old pages
                # in the WAL file: copy the new ones into the database, empty the file.
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        await self._run("writer", work)

    async def store(self, ratings: Sequence[StoredRating]) -> int:
        if not ratings:
            return 0
        rows = [rating_values(r) for r in ratings]
        return await self._run("writer", lambda connection: _store(connection, rows))

    async def count_ratings(self, service: str | None = None) -> int:
        def query(connection: sqlite3.Connection) -> int:
            if service is None:
                return int(connection.execute("SELECT count(*) FROM ratings").fetchone()[0])
            sql = "SELECT count(*) FROM ratings WHERE service = ?"
            return int(connection.execute(sql, (service,)).fetchone()[0])

        return await self._run("reader", query)

    async def save_tenant(self, tenant_id: str, name: str) -> None:
        sql = (
            "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name"
        )
        parameters = (tenant_id, name, int(time.time()))
        await self._run("writer", lambda connection: connection.execute(sql, parameters))

    async def save_service(self, service: Service) -> None:
        sql = """INSERT INTO services
                     (slug, tenant_id, name, default_language, config, created_at)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (slug) DO UPDATE SET tenant_id = excluded.tenant_id,
                     name = excluded.name, default_language = excluded.default_language,
                     config = excluded.config"""
        parameters = (
            service.slug,
            service.tenant_id,
            service.name,
            service.default_language,
            CONFIG_ENCODER.encode(service.config).decode(),
            int(time.time()),
        )
        await self._run("writer", lambda connection: connection.execute(sql, parameters))

    async def list_services(self) -> list[Service]:
        def query(connection: sqlite3.Connection) -> list[Service]:
            rows = connection.execute(
                "SELECT slug, tenant_id, name, default_language, config FROM services ORDER BY slug"
            ).fetchall()
            return [
                Service(
                    slug=row[0],
                    tenant_id=row[1],
                    name=row[2],
                    default_language=row[3],
                    config=config,
                )
                for row in rows
                if (config := decode_stored_config(row[0], row[4])) is not None
            ]

        return await self._run("reader", query)

    async def list_tenants(self) -> list[Tenant]:
        def query(connection: sqlite3.Connection) -> list[Tenant]:
            rows = connection.execute(
                "SELECT id, name, time_zone FROM tenants ORDER BY id"
            ).fetchall()
            return [Tenant(row[0], row[1], row[2]) for row in rows]

        return await self._run("reader", query)

    async def ping(self) -> None:
        await self._run("reader", lambda connection: connection.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        for role, executor in (("writer", self._writer), ("reader", self._reader)):
            connection = self._connections.get(role)
            if connection is not None:
                await asyncio.get_running_loop().run_in_executor(executor, connection.close)
            executor.shutdown(wait=True)
        self._connections.clear()


def _store(connection: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> int:
    connection.execute("BEGIN IMMEDIATE")
    try:
        fill_incoming(connection, with_local_days(rows, service_zones(connection)))
        # EXISTS per incoming row, a primary-key lookup each: the IN (... JOIN ...) form
        # this replaced made SQLite scan every stored rating on every batch.
        connection.execute(
            "DELETE FROM temp.incoming WHERE EXISTS "
            "(SELECT 1 FROM main.ratings WHERE ratings.id = incoming.id)"
        )
        connection.execute(_DROP_REPEATED_TRANSACTIONS)
        new_rows = int(connection.execute("SELECT count(*) FROM temp.incoming").fetchone()[0])
        connection.execute(
            f"INSERT INTO main.ratings ({RATING_COLUMNS}, stored_at) "  # noqa: S608
            f"SELECT {RATING_COLUMNS}, ? FROM temp.incoming",
            (int(time.time() * 1000),),
        )
        for statement in ALL_UPSERTS:
            connection.execute(statement)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return new_rows
