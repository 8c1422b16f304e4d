"""Durable storage of ratings and rollups, chosen by DATABASE_URL."""

from __future__ import annotations

from collector.sealed_secrets import SecretSealer
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


def open_storage(url: str, sealer: SecretSealer | None = None) -> Storage:
    """A storage backend for the URL: sqlite:///path or postgresql://... (postgres://).

    sealer: seals the portals' HS256 secrets (sealer_for(settings)); without it, the
    storage can neither store nor read them, as commands that never touch keys do.
    """
    if url.startswith("sqlite:///"):
        return SqliteStorage(sqlite_path(url), sealer=sealer)
    if url.startswith(POSTGRES_SCHEMES):
        # Imported here: a SQLite deployment never loads psycopg.
        from collector.storage.postgres import PostgresStorage

        return PostgresStorage(url, sealer=sealer)
    raise ValueError(f"DATABASE_URL: unsupported database {url.split(':', 1)[0]!r}")
