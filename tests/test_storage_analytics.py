"""The storage's analytics: rollups in the tenant's local days, time series, breakdowns,
totals, comment pages, impressions, and the rebuild when a tenant's zone changes."""

from __future__ import annotations

from datetime import date

import pytest

from collector.services import Service
from collector.storage import Storage
from collector.storage.base import CommentQuery, RatingRow
from tests.helpers import DAY, DAY_ONE, stored_rating

HOUR = 3_600_000
YEREVAN = "Asia/Yerevan"  # UTC+4, no daylight saving time
JAN_1, JAN_2 = date(2026, 1, 1), date(2026, 1, 2)


async def _service(storage: Storage, slug: str = "svc", tenant: str = "t1") -> None:
    await storage.save_tenant(tenant, f"Tenant {tenant}")
    await storage.save_service(Service(slug=slug, tenant_id=tenant, name=slug))


async def test_a_late_evening_rating_counts_on_the_local_day(storage: Storage) -> None:
    await _service(storage)
    await storage.set_tenant_time_zone("t1", YEREVAN)
    # 2026-01-01 21:00 UTC is 2026-01-02 01:00 in Yerevan.
    await storage.store([stored_rating(1, 5, DAY_ONE + 21 * HOUR)])
    assert (await storage.summary("svc", JAN_1, JAN_1)).count == 0
    assert (await storage.summary("svc", JAN_2, JAN_2)).count == 1
    series = await storage.time_series("svc", JAN_1, JAN_2, "day")
    assert [(point.key, point.figures.count) for point in series] == [("2026-01-02", 1)]


async def test_changing_the_zone_rebuilds_every_rollup(storage: Storage) -> None:
    await _service(storage)
    await storage.store(
        [
            stored_rating(1, 5, DAY_ONE + 21 * HOUR, answers={"resolved": "yes"}),
            stored_rating(2, 1, DAY_ONE + 2 * HOUR, comment="slow"),
        ]
    )
    await storage.store_impressions("batch-1", [("svc", DAY_ONE + 21 * HOUR, 7)])
    in_utc = await storage.summary("svc", JAN_1, JAN_1)
    assert (in_utc.count, in_utc.impressions, in_utc.answers) == (2, 7, {"resolved": {"yes": 1}})

    assert await storage.set_tenant_time_zone("t1", YEREVAN)
    first, second = [await storage.summary("svc", day, day) for day in (JAN_1, JAN_2)]
    assert (first.count, first.stars, first.comments, first.impressions) == (
        1,
        (1, 0, 0, 0, 0),
        1,
        0,
    )
    assert (second.count, second.stars, second.impressions, second.answers) == (
        1,
        (0, 0, 0, 0, 1),
        7,
        {"resolved": {"yes": 1}},
    )
    devices = await storage.breakdown("svc", "device", JAN_2, JAN_2)
    assert [(entry.key, entry.figures.count) for entry in devices] == [("mobile", 1)]
    # Nothing counted twice by the rebuild.
    assert (await storage.summary("svc", None, None)).count == 2
    assert not await storage.set_tenant_time_zone("nobody", YEREVAN)


async def test_a_new_tenant_sees_utc_and_tenants_list_their_zone(storage: Storage) -> None:
    await _service(storage)
    assert [(t.id, t.time_zone) for t in await storage.list_tenants()] == [("t1", "UTC")]
    await storage.set_tenant_time_zone("t1", "Asia/Almaty")
    await storage.save_tenant("t1", "Renamed")  # a rename keeps the zone
    assert [(t.name, t.time_zone) for t in await storage.list_tenants()] == [
        ("Renamed", "Asia/Almaty")
    ]


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        # 2026-01-01 is a Thursday; ISO weeks start on Monday 2025-12-29.
        ("day", [("2026-01-01", 2), ("2026-01-05", 1), ("2026-02-03", 1)]),
        ("week", [("2025-12-29", 2), ("2026-01-05", 1), ("2026-02-02", 1)]),
        ("month", [("2026-01-01", 3), ("2026-02-01", 1)]),
    ],
)
async def test_time_series_by_day_week_and_month(
    storage: Storage, interval: str, expected: list[tuple[str, int]]
) -> None:
    await _service(storage)
    await storage.store(
        [
            stored_rating(1, 5, DAY_ONE),
            stored_rating(2, 3, DAY_ONE + HOUR),
            stored_rating(3, 4, DAY_ONE + 4 * DAY),
            stored_rating(4, 2, DAY_ONE + 33 * DAY),
        ]
    )
    series = await storage.time_series("svc", JAN_1, date(2026, 2, 28), interval)  # type: ignore[arg-type]
    assert [(point.key, point.figures.count) for point in series] == expected


async def test_bots_are_counted_apart(storage: Storage) -> None:
    await _service(storage)
    await storage.store(
        [stored_rating(1, 5), stored_rating(2, 1, is_bot=True, comment="spam", os_family="Bot")]
    )
    figures = await storage.summary("svc", None, None)
    assert (figures.count, figures.bots, figures.comments, figures.stars) == (
        1,
        1,
        0,
        (0, 0, 0, 0, 1),
    )
    os_values = await storage.breakdown("svc", "os", None, None)
    assert [(entry.key, entry.figures.count) for entry in os_values] == [("Android", 1)]


async def test_breakdowns_by_every_dimension(storage: Storage) -> None:
    await _service(storage)
    await storage.store(
        [
            stored_rating(1, 5, office="Yerevan-1", operator="op-7", answer_seconds=600),
            stored_rating(2, 4, office="Yerevan-1", language="ru", channel="kiosk"),
            stored_rating(3, 1, office="Gyumri", device_class="desktop", os_family="Windows"),
            stored_rating(4, 2, browser_family="Firefox"),
        ]
    )
    expected = {
        "device": [("mobile", 3), ("desktop", 1)],
        "os": [("Android", 3), ("Windows", 1)],
        "browser": [("Chrome Mobile", 3), ("Firefox", 1)],
        "language": [("en", 3), ("ru", 1)],
        "channel": [("web", 3), ("kiosk", 1)],
        # Only ratings whose token named an office or operator.
        "office": [("Yerevan-1", 2), ("Gyumri", 1)],
        "operator": [("op-7", 1)],
    }
    for dimension, values in expected.items():
        entries = await storage.breakdown("svc", dimension, None, None)
        assert [(entry.key, entry.figures.count) for entry in entries] == values, dimension
    office = (await storage.breakdown("svc", "office", None, None))[0].figures
    assert (office.stars, office.answered, office.answer_seconds_sum) == ((0, 0, 0, 1, 1), 1, 600)
    with pytest.raises(ValueError, match="no dimension"):
        await storage.breakdown("svc", "client_hash", None, None)


async def test_totals_per_service_for_league_tables(storage: Storage) -> None:
    await _service(storage, "a")
    await _service(storage, "b")
    await _service(storage, "quiet")
    await storage.store(
        [
            stored_rating(1, 5, service="a"),
            stored_rating(2, 4, service="a", received_at=DAY_ONE + DAY),
            stored_rating(3, 1, service="b"),
            stored_rating(4, 2, service="b", received_at=DAY_ONE + 40 * DAY),
        ]
    )
    totals = await storage.totals(["a", "b", "quiet"], JAN_1, date(2026, 1, 31))
    assert sorted(totals) == ["a", "b"]
    assert (totals["a"].count, totals["a"].stars) == (2, (0, 0, 0, 1, 1))
    assert (totals["b"].count, totals["b"].stars) == (1, (1, 0, 0, 0, 0))


async def test_impression_batches_count_once(storage: Storage) -> None:
    await _service(storage)
    quarter = DAY_ONE + 10 * HOUR
    assert await storage.store_impressions("b1", [("svc", quarter, 5), ("svc", quarter + DAY, 2)])
    assert not await storage.store_impressions("b1", [("svc", quarter, 5)])
    assert await storage.store_impressions("b2", [("svc", quarter, 1)])
    await storage.store([stored_rating(1, 5, quarter)])
    day_one = await storage.summary("svc", JAN_1, JAN_1)
    assert (day_one.impressions, day_one.count, day_one.newest_received_at) == (6, 1, quarter)
    assert (await storage.summary("svc", JAN_2, JAN_2)).impressions == 2


def _ids(rows: list[RatingRow]) -> list[int]:
    return [int(row.id[-3:]) for row in rows]


async def test_comment_pages_newest_first_with_a_cursor(storage: Storage) -> None:
    await _service(storage)
    await storage.store(
        [
            stored_rating(n, stars, DAY_ONE + n * HOUR, comment=f"comment {n}")
            for n, stars in zip(range(1, 8), [5, 1, 3, 1, 4, 2, 5], strict=True)
        ]
        + [stored_rating(8, 1, DAY_ONE + 9 * HOUR)]  # no comment: not listed
    )
    query = CommentQuery(services=("svc",), limit=3)
    first = await storage.comments(query)
    assert _ids(first) == [7, 6, 5]
    last = first[-1]
    second = await storage.comments(
        CommentQuery(services=("svc",), limit=3, after=(last.rating, last.received_at, last.id))
    )
    assert _ids(second) == [4, 3, 2]

    lowest = CommentQuery(services=("svc",), limit=4, lowest_first=True)
    page = await storage.comments(lowest)
    assert [(row.rating, int(row.id[-3:])) for row in page] == [(1, 4), (1, 2), (2, 6), (3, 3)]
    end = page[-1]
    rest = await storage.comments(
        CommentQuery(
            services=("svc",),
            limit=4,
            lowest_first=True,
            after=(end.rating, end.received_at, end.id),
        )
    )
    assert [(row.rating, int(row.id[-3:])) for row in rest] == [(4, 5), (5, 7), (5, 1)]


async def test_comment_filters(storage: Storage) -> None:
    await _service(storage)
    await storage.store(
        [
            stored_rating(1, 1, DAY_ONE, comment="Очень ДОЛГАЯ очередь", language="ru"),
            stored_rating(2, 2, DAY_ONE + DAY, comment="long queue 100%", language="en"),
            stored_rating(3, 5, DAY_ONE + 2 * DAY, comment="fast_and_kind", language="en"),
            stored_rating(4, 1, DAY_ONE + 3 * DAY, comment="spam", is_bot=True),
        ]
    )

    async def ids(**filters: object) -> list[int]:
        return _ids(await storage.comments(CommentQuery(services=("svc",), **filters)))  # type: ignore[arg-type]

    assert await ids(maximum_rating=2) == [4, 2, 1]
    assert await ids(maximum_rating=2, include_bots=False) == [2, 1]
    assert await ids(language="ru") == [1]
    # Case folding covers Cyrillic; % and _ are matched as themselves.
    assert await ids(text="долгая") == [1]
    assert await ids(text="100%") == [2]
    assert await ids(text="_and_") == [3]
    assert await ids(text="a%e") == []
    assert await ids(received_from=DAY_ONE + DAY, received_before=DAY_ONE + 3 * DAY) == [3, 2]
    assert await ids(minimum_rating=5) == [3]
    assert await storage.comments(CommentQuery(services=())) == []


async def test_exports_read_every_rating_and_never_the_client_hash(storage: Storage) -> None:
    await _service(storage)
    await storage.store([stored_rating(1, 4, transaction="T-1"), stored_rating(2, 3)])
    rows = await storage.comments(CommentQuery(services=("svc",), with_comment=False))
    assert _ids(rows) == [2, 1]
    assert rows[1].transaction_ref == "T-1"
    assert not hasattr(rows[0], "client_hash")
