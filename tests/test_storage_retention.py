"""Retention over every backend: comments purged after the retention period with the
figures kept, and a transaction's ratings erased with the rollups equal to a rebuild."""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Any

import psycopg
import pytest

from collector.services import Service
from collector.storage import Storage
from collector.storage.base import DIMENSIONS, CommentQuery
from tests.helpers import DAY, DAY_ONE, stored_rating

HOUR = 3_600_000
YEREVAN = "Asia/Yerevan"  # UTC+4
DECEMBER_1, JANUARY_31 = date(2025, 12, 1), date(2026, 1, 31)


async def _service(storage: Storage, slug: str = "svc", zone: str | None = None) -> None:
    await storage.save_tenant("t1", "Tenant")
    await storage.save_service(Service(slug=slug, tenant_id="t1", name=slug))
    if zone:
        await storage.set_tenant_time_zone("t1", zone)


async def _everything(storage: Storage, service: str = "svc") -> tuple[Any, ...]:
    """Every figure and raw listing analysts can get for the service."""
    comments = CommentQuery(services=(service,), limit=1000)
    lowest = CommentQuery(services=(service,), limit=1000, lowest_first=True)
    export = CommentQuery(services=(service,), limit=1000, with_comment=False)
    return (
        await storage.summary(service, None, None),
        await storage.time_series(service, DECEMBER_1, JANUARY_31, "day"),
        {name: await storage.breakdown(service, name, None, None) for name in DIMENSIONS},
        await storage.comments(comments),
        await storage.comments(lowest),
        await storage.comments(export),
    )


async def _rebuilt(storage: Storage, zone: str) -> tuple[Any, ...]:
    """The figures after a rebuild of every rollup from the raw ratings."""
    assert await storage.set_tenant_time_zone("t1", zone)
    return await _everything(storage)


def _mentions(storage_url: str, needles: tuple[str, ...]) -> list[str]:
    """Every table (partitions included) with a cell containing one of the needles."""
    found = []
    if storage_url.startswith("sqlite:///"):
        with sqlite3.connect(storage_url.removeprefix("sqlite:///")) as connection:
            tables = [
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            for table in tables:
                for row in connection.execute(f'SELECT * FROM "{table}"'):  # noqa: S608
                    if any(needle in str(cell) for cell in row for needle in needles):
                        found.append(table)
        return found
    with psycopg.connect(storage_url) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        ]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'.encode()):  # noqa: S608
                if any(needle in str(cell) for cell in row for needle in needles):
                    found.append(table)
    return found


@pytest.mark.parametrize(
    ("limit", "batches"),
    [(1, [1, 1, 1, 0]), (2, [2, 1]), (3, [3, 0]), (1000, [3])],
)
async def test_purge_blanks_old_comments_in_batches(
    storage: Storage, limit: int, batches: list[int]
) -> None:
    await _service(storage)
    cutoff = DAY_ONE + 10 * DAY
    await storage.store(
        [
            stored_rating(1, 1, DAY_ONE - 40 * DAY, comment="old, December"),
            stored_rating(2, 2, DAY_ONE, comment="old"),
            stored_rating(3, 5, DAY_ONE, comment="spam", is_bot=True),
            stored_rating(4, 4, DAY_ONE),  # no comment: nothing to purge
            stored_rating(5, 3, cutoff, comment="exactly at the cutoff: kept"),
            stored_rating(6, 3, cutoff + DAY, comment="new"),
            stored_rating(7, 1, DAY_ONE, comment="another service", service="other"),
        ]
    )
    await storage.save_service(Service(slug="other", tenant_id="t1", name="other"))
    before = await storage.summary("svc", None, None)
    assert await storage.count_comments("svc", cutoff) == 3

    done = [await storage.purge_comments("svc", cutoff, limit) for _ in batches]

    assert done == batches
    assert await storage.count_comments("svc", cutoff) == 0
    export = await storage.comments(CommentQuery(services=("svc", "other"), with_comment=False))
    assert {row.id[-1]: row.comment for row in export} == {
        "1": "",
        "2": "",
        "3": "",
        "4": "",
        "5": "exactly at the cutoff: kept",
        "6": "new",
        "7": "another service",
    }
    listed = await storage.comments(CommentQuery(services=("svc",), lowest_first=True))
    assert [row.comment for row in listed] == ["new", "exactly at the cutoff: kept"]
    # The figures are history, not personal data: a purge leaves them as they were.
    assert await storage.summary("svc", None, None) == before
    assert before.comments == 4  # the bot's is counted apart, as always
    assert await storage.count_ratings("svc") == 6


async def test_a_rebuild_still_counts_purged_comments(storage: Storage) -> None:
    await _service(storage)
    await storage.store(
        [
            stored_rating(1, 1, DAY_ONE, comment="old"),
            stored_rating(2, 5, DAY_ONE + DAY, comment="new"),
        ]
    )
    assert await storage.purge_comments("svc", DAY_ONE + DAY, 100) == 1
    purged = await _everything(storage)
    assert purged[0].comments == 2
    assert await _rebuilt(storage, "UTC") == purged
    series = await storage.time_series("svc", DECEMBER_1, JANUARY_31, "day")
    assert [(point.key, point.figures.comments) for point in series] == [
        ("2026-01-01", 1),
        ("2026-01-02", 1),
    ]


async def test_erasure_deletes_the_rating_and_leaves_rebuilt_figures(
    storage: Storage, storage_url: str
) -> None:
    await _service(storage, zone=YEREVAN)
    # 2026-01-01 21:00 UTC is 2026-01-02 01:00 in Yerevan: the erased rating's local day
    # is not its UTC day, and the ratings around it share that local day.
    erased_at = DAY_ONE + 21 * HOUR
    await storage.store(
        [
            stored_rating(
                1,
                1,
                erased_at,
                comment="my case number is CASE-4711",
                transaction="txn-erased",
                office="Gyumri",
                operator="op-9",
                answer_seconds=600,
                answers={"resolved": "no"},
                language="hy",
                device_class="desktop",
            ),
            stored_rating(2, 5, DAY_ONE + 22 * HOUR, transaction="txn-kept", office="Gyumri"),
            stored_rating(3, 4, DAY_ONE + 19 * HOUR, answers={"resolved": "yes"}),  # Jan 1
            stored_rating(4, 2, DAY_ONE + 23 * HOUR, comment="slow", is_bot=True),
            stored_rating(5, 3, DAY_ONE - 30 * DAY, comment="December"),
            stored_rating(6, 4, erased_at, transaction="txn-other", service="other"),
        ]
    )
    await storage.save_service(Service(slug="other", tenant_id="t1", name="other"))
    await storage.store_impressions("views", [("svc", erased_at, 9), ("svc", DAY_ONE, 4)])
    assert await storage.purge_comments("svc", DAY_ONE, 100) == 1  # December's
    needles = ("00000000-0000-7000-8000-000000000001", "txn-erased", "CASE-4711")
    assert "ratings" in _mentions(storage_url, needles)

    assert await storage.erase_transaction("svc", "txn-erased") == 1

    erased = await _everything(storage)
    summary = erased[0]
    assert (summary.count, summary.stars, summary.bots) == (3, (0, 0, 1, 1, 1), 1)
    assert (summary.comments, summary.impressions, summary.answered) == (1, 13, 0)
    assert summary.answers == {"resolved": {"yes": 1}}
    assert [(point.key, point.figures.count) for point in erased[1]] == [
        ("2025-12-02", 1),
        ("2026-01-01", 1),
        ("2026-01-02", 1),
    ]
    assert [(entry.key, entry.figures.count) for entry in erased[2]["office"]] == [("Gyumri", 1)]
    assert erased[2]["operator"] == []
    assert [entry.key for entry in erased[2]["language"]] == ["en"]
    assert {row.id[-1] for row in erased[5]} == {"2", "3", "4", "5"}
    assert await _rebuilt(storage, YEREVAN) == erased
    # Nothing of it is left in any table.
    assert _mentions(storage_url, needles) == []
    assert await storage.count_ratings("other") == 1
    assert (await storage.summary("other", None, None)).count == 1


async def test_erasing_an_unknown_transaction_changes_nothing(storage: Storage) -> None:
    await _service(storage)
    await storage.save_service(Service(slug="other", tenant_id="t1", name="other"))
    await storage.store(
        [
            stored_rating(1, 5, DAY_ONE, transaction="txn-1", comment="fine"),
            # The same reference at another service is another citizen's.
            stored_rating(2, 4, DAY_ONE, transaction="txn-2", service="other"),
        ]
    )
    before = await _everything(storage)
    for service, transaction in (("svc", "txn-2"), ("svc", ""), ("other", "txn-1")):
        assert await storage.erase_transaction(service, transaction) == 0
    assert await _everything(storage) == before
    assert await storage.count_ratings("other") == 1


async def test_an_erased_transaction_leaves_no_key_behind(storage: Storage) -> None:
    """The reference is free again in storage (Redis still refuses a second rating of
    it while the portal's token lives: collector/erasure.py keeps that key)."""
    await _service(storage)
    await storage.store([stored_rating(1, 5, DAY_ONE, transaction="txn-1")])
    assert await storage.erase_transaction("svc", "txn-1") == 1
    assert await storage.store([stored_rating(2, 3, DAY_ONE + DAY, transaction="txn-1")]) == 1
    assert (await storage.summary("svc", None, None)).stars == (0, 0, 1, 0, 0)
