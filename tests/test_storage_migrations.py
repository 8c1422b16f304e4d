"""Migrations of data an older collector stored, over every backend."""

from __future__ import annotations

from collector.storage import open_storage
from collector.storage.sqlite import sqlite_path
from tests.helpers import DAY_ONE
from tests.old_schema import columns, is_sqlite, write_old_database

OLD_RATINGS = 200


def old_hash(number: int) -> str:
    return f"c11e47{number:018d}"


def old_rating(number: int) -> tuple[str, tuple[object, ...]]:
    """A rating with its client hash, as the flusher wrote it before the hash left."""
    return (
        "INSERT INTO ratings (id, service, rating, comment, language, channel, received_at, "
        "client_hash, device_class, os_family, browser_family, is_bot, stored_at) "
        "VALUES (?, 'svc', 4, '', 'en', 'web', ?, ?, 'mobile', 'Android', 'Chrome', ?, 0)",
        (f"old-{number:05d}", DAY_ONE + number, old_hash(number), False),
    )


async def test_client_hashes_leave_storage_and_the_ratings_stay(storage_url: str) -> None:
    await write_old_database(storage_url, [old_rating(n) for n in range(OLD_RATINGS)])
    assert "client_hash" in await columns(storage_url, "ratings")
    storage = open_storage(storage_url)
    try:
        await storage.migrate()
        assert await storage.count_ratings() == OLD_RATINGS
        assert "client_hash" not in await columns(storage_url, "ratings")
    finally:
        await storage.close()
    if is_sqlite(storage_url):
        # Zeroed, not left in the file's free pages or in the WAL.
        path = sqlite_path(storage_url)
        files = [path, path.with_name(path.name + "-wal")]
        contents = b"".join(file.read_bytes() for file in files if file.exists())
        assert b"c11e47" not in contents
