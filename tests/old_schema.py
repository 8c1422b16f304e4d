"""A database as an older collector left it: the schema up to a version, and rows written
with that schema's SQL, in either backend (for tests of the migrations after it)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence

import psycopg

from collector.storage import postgres_migrations, sqlite_migrations
from collector.storage.sqlite import sqlite_path

# The last versions before client hashes left storage (and kids became per tenant).
SQLITE_BEFORE = 5
POSTGRES_BEFORE = 2


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:///")


async def write_old_database(url: str, statements: Sequence[tuple[str, Sequence[object]]]) -> None:
    """Migrate an empty database to the old version, then run the statements (SQL with
    `?` placeholders) in one transaction."""
    if is_sqlite(url):
        with contextlib.closing(sqlite3.connect(sqlite_path(url), isolation_level=None)) as db:
            db.execute("PRAGMA journal_mode = WAL")
            sqlite_migrations.migrate(db, up_to=SQLITE_BEFORE)
            db.execute("BEGIN")
            for sql, parameters in statements:
                db.execute(sql, parameters)
            db.execute("COMMIT")
        return
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await postgres_migrations.migrate(connection, up_to=POSTGRES_BEFORE)
        async with connection.transaction():
            for sql, parameters in statements:
                await connection.execute(sql.replace("?", "%s").encode(), parameters)


async def query(
    url: str, sql: str, parameters: tuple[object, ...] = ()
) -> list[tuple[object, ...]]:
    """Rows of one query, on a connection of the test's own (`?` placeholders)."""
    if is_sqlite(url):
        with contextlib.closing(sqlite3.connect(sqlite_path(url))) as db:
            return db.execute(sql, parameters).fetchall()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        cursor = await connection.execute(sql.replace("?", "%s").encode(), parameters)
        return await cursor.fetchall()


async def columns(url: str, table: str) -> set[str]:
    if is_sqlite(url):
        return {str(row[1]) for row in await query(url, f"PRAGMA table_info({table})")}
    sql = "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
    return {str(row[0]) for row in await query(url, sql, (table,))}


async def execute(url: str, sql: str, parameters: tuple[object, ...] = ()) -> None:
    """One statement, committed, on a connection of the test's own (`?` placeholders)."""
    if is_sqlite(url):
        with contextlib.closing(sqlite3.connect(sqlite_path(url), isolation_level=None)) as db:
            db.execute(sql, parameters)
        return
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute(sql.replace("?", "%s").encode(), parameters)
