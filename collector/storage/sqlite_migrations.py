"""SQLite's versioned migrations: collector/storage/migrations/sqlite/NNNN_name.sql,
applied in order, each in its own transaction, recorded in schema_migrations."""

from __future__ import annotations

import sqlite3
import time
from importlib import resources


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("collector.storage") / "migrations" / "sqlite"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _statements(script: str) -> list[str]:
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        line.strip().startswith("--") or not line.strip() for line in current.splitlines()
    ):
        raise RuntimeError(f"incomplete SQL statement in a migration: {current[:80]!r}")
    return statements


def migrate(connection: sqlite3.Connection, up_to: int | None = None) -> bool:
    """Apply the migrations not applied yet (up to version `up_to`, for tests of an
    older schema); safe to run on every start. True if any was applied."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
    )
    applied_now = False
    for version, script in _migrations():
        if up_to is not None and version > up_to:
            break
        # IMMEDIATE takes the write lock first, so two processes starting together
        # cannot both apply the same migration.
        connection.execute("BEGIN IMMEDIATE")
        try:
            applied = connection.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
            ).fetchone()
            if not applied:
                for statement in _statements(script):
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, int(time.time())),
                )
                applied_now = True
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return applied_now
