"""The storage interface, run against every backend (SQLite for now)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from collector.services import Service, ServiceConfig
from collector.storage import RecordRejected, Storage, open_storage
from tests.helpers import DAY, DAY_ONE
from tests.helpers import stored_rating as rating


async def test_store_counts_new_rows_and_skips_known_ids(storage: Storage) -> None:
    assert await storage.store([rating(1), rating(2)]) == 2
    assert await storage.store([rating(2), rating(3)]) == 1
    assert await storage.store([rating(1), rating(1)]) == 0
    assert await storage.count_ratings() == 3


async def test_redelivered_batch_does_not_change_the_rollups(storage: Storage) -> None:
    batch = [rating(1, stars=5), rating(2, stars=1, comment="rude")]
    await storage.store(batch)
    await storage.store(batch)
    figures = await storage.summary("svc", None, None)
    assert figures.count == 2
    assert figures.stars == (1, 0, 0, 0, 1)


async def test_summary_sums_days_and_filters_by_period(storage: Storage) -> None:
    await storage.store(
        [
            rating(1, stars=5, received_at=DAY_ONE),
            rating(2, stars=3, received_at=DAY_ONE + DAY + 5),
            rating(3, stars=1, received_at=DAY_ONE + 2 * DAY + 7, language="ru"),
            rating(4, stars=4, received_at=DAY_ONE, service="other"),
        ]
    )
    everything = await storage.summary("svc", None, None)
    assert everything.count == 3
    assert everything.stars == (1, 0, 1, 0, 1)
    assert everything.newest_received_at == DAY_ONE + 2 * DAY + 7
    second_day = await storage.summary("svc", date(2026, 1, 2), date(2026, 1, 2))
    assert second_day.count == 1
    assert second_day.stars == (0, 0, 1, 0, 0)
    from_second = await storage.summary("svc", date(2026, 1, 2), None)
    assert from_second.count == 2
    nothing = await storage.summary("svc", date(2025, 1, 1), date(2025, 12, 31))
    assert (nothing.count, nothing.newest_received_at) == (0, None)


async def test_bots_are_left_out_of_the_summary(storage: Storage) -> None:
    await storage.store([rating(1, stars=5), rating(2, stars=1, is_bot=True, device_class="bot")])
    figures = await storage.summary("svc", None, None)
    assert figures.count == 1
    assert await storage.count_ratings() == 2


async def test_a_refused_row_rolls_back_the_whole_batch(storage: Storage) -> None:
    with pytest.raises(RecordRejected):
        await storage.store([rating(1), rating(2, stars=9)])
    assert await storage.count_ratings() == 0
    assert (await storage.summary("svc", None, None)).count == 0


async def test_migrate_twice_is_harmless(storage: Storage) -> None:
    await storage.migrate()
    await storage.store([rating(1)])
    await storage.migrate()
    assert await storage.count_ratings() == 1


async def test_tenants_and_services_are_created_once(storage: Storage) -> None:
    await storage.save_tenant("t1", "Agency")
    service = Service(slug="permits", tenant_id="t1", name="Permits", default_language="ru")
    await storage.save_service(service)
    await storage.save_service(service)
    assert await storage.list_services() == [service]


async def test_sqlite_is_durable_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    storage = open_storage(f"sqlite:///{path}")
    await storage.migrate()
    await storage.store([rating(1)])
    await storage.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("SELECT count(*) FROM ratings").fetchone() == (1,)
        versions = connection.execute("SELECT version FROM schema_migrations").fetchall()
        assert versions == [(v,) for v in range(1, 9)]


async def test_bots_answers_are_not_counted(storage: Storage) -> None:
    await storage.store(
        [
            rating(1, answers={"resolved": "yes"}),
            rating(2, answers={"resolved": "no"}, is_bot=True, device_class="bot"),
        ]
    )
    assert (await storage.summary("svc", None, None)).answers == {"resolved": {"yes": 1}}


async def test_saving_a_service_again_updates_it(storage: Storage) -> None:
    await storage.save_tenant("t1", "Agency")
    await storage.save_service(Service(slug="permits", tenant_id="t1", name="Permits"))
    changed = Service(
        slug="permits",
        tenant_id="t1",
        name="Building permits",
        config=ServiceConfig(questions=("resolved",), layout="compact"),
    )
    await storage.save_service(changed)
    assert await storage.list_services() == [changed]
