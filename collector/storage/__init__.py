"""Durable storage of ratings and rollups, chosen by DATABASE_URL."""

from __future__ import annotations

from collector.storage.base import (
    RecordRejected,
    Storage,
    StorageError,
    StorageUnavailable,
    SummaryFigures,
)
from collector.storage.sqlite import SqliteStorage, sqlite_path

__all__ = [
    "RecordRejected",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "SummaryFigures",
    "open_storage",
]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_storage(url: str) -> Storage:
    """A storage backend for the URL: sqlite:///path or postgresql://... (postgres://)."""
    if url.startswith("sqlite:///"):
        return SqliteStorage(sqlite_path(url))
    if url.startswith(POSTGRES_SCHEMES):
        # Imported here: a SQLite deployment never loads psycopg.
        from collector.storage.postgres import PostgresStorage

        return PostgresStorage(url)
    raise ValueError(f"DATABASE_URL: unsupported database {url.split(':', 1)[0]!r}")
