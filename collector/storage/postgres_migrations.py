"""PostgreSQL's versioned migrations: collector/storage/migrations/postgres/NNNN_name.sql,
applied in order, each in its own transaction, recorded in schema_migrations."""

from __future__ import annotations

import time
from importlib import resources

from collector.storage.postgres_rollups import MIGRATIONS_LOCK, Connection, advisory_lock


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("collector.storage") / "migrations" / "postgres"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(connection: Connection, up_to: int | None = None) -> None:
    """Apply the migrations not applied yet (up to version `up_to`, for tests of an
    older schema); safe to run on every start, and from several processes at once
    (connection in autocommit mode)."""
    for version, script in _migrations():
        if up_to is not None and version > up_to:
            break
        async with connection.transaction():
            # Every process starting at once queues here; the first applies the
            # migration, the others find it recorded. The lock comes before CREATE TABLE
            # IF NOT EXISTS, which two sessions cannot run side by side (both would try
            # to insert the same catalog row).
            await connection.execute(advisory_lock(MIGRATIONS_LOCK))
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
            )
            cursor = await connection.execute(
                "SELECT 1 FROM schema_migrations WHERE version = %s", (version,)
            )
            if await cursor.fetchone() is None:
                # No parameters: psycopg sends the script as one simple query, so a file
                # may hold many statements.
                await connection.execute(script.encode())
                await connection.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                    (version, int(time.time())),
                )
