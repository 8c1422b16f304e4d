"""What only the PostgreSQL storage does: month partitions, concurrent writers and
migrations, and how its failures are reported (the shared suite covers the rest)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import errors, sql

from collector.embedded_redis import free_port
from collector.services import Service
from collector.storage import RecordRejected, StorageUnavailable, open_storage
from collector.storage.base import CommentQuery
from collector.storage.postgres import PostgresStorage, _classify
from collector.storage.postgres_rollups import MIGRATIONS_LOCK, ZONES_LOCK, advisory_lock
from tests.helpers import DAY, DAY_ONE
from tests.helpers import stored_rating as rating

MARCH_1 = DAY_ONE + 59 * DAY  # 2026-03-01T00:00:00Z
MAY_1 = DAY_ONE + 120 * DAY  # 2026-05-01T00:00:00Z
YEAR_1999 = DAY_ONE - 27 * 365 * DAY
JAN_1 = date(2026, 1, 1)


@pytest.fixture
async def storage(postgres_url: str) -> AsyncIterator[PostgresStorage]:
    backend = PostgresStorage(postgres_url)
    await backend.migrate()
    yield backend
    await backend.close()


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
    """A connection of the test's own to the storage's database."""
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as connection:
        yield connection


async def rows(
    connection: psycopg.AsyncConnection[tuple[object, ...]], query: str
) -> list[tuple[object, ...]]:
    cursor = await connection.execute(query.encode())
    return await cursor.fetchall()


async def wait_for_lock_waiters(
    connection: psycopg.AsyncConnection[tuple[object, ...]], count: int
) -> None:
    """Poll until `count` sessions wait for an advisory lock."""
    for _ in range(1000):
        waiting = await rows(
            connection,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        if waiting[0][0] == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} sessions never waited for the lock")


async def test_each_month_gets_its_partition(
    storage: PostgresStorage, database: psycopg.AsyncConnection[tuple[object, ...]]
) -> None:
    await storage.store([rating(1), rating(2, received_at=DAY_ONE + DAY), rating(3)])
    await storage.store([rating(4, received_at=MARCH_1), rating(5, received_at=YEAR_1999)])
    placed = await rows(
        database,
        "SELECT tableoid::regclass::text, count(*) FROM ratings GROUP BY 1 ORDER BY 1",
    )
    # A year before 2000 is a broken clock: kept, in the DEFAULT partition.
    assert placed == [("ratings_2026_01", 3), ("ratings_2026_03", 1), ("ratings_default", 1)]
    assert (await storage.summary("svc", None, None)).count == 5


async def test_rows_in_the_default_partition_move_into_their_new_month(
    storage: PostgresStorage, database: psycopg.AsyncConnection[tuple[object, ...]]
) -> None:
    # As if written while May's partition was missing (dropped, or by another tool).
    await database.execute(
        "INSERT INTO ratings (id, service, rating, language, channel, received_at, "
        "device_class, os_family, browser_family, is_bot, stored_at) "
        "VALUES ('stray', 'svc', 3, 'en', 'web', %s, 'mobile', 'Android', 'Chrome', "
        "false, 0)",
        (MAY_1 + DAY,),
    )
    assert await storage.store([rating(1, received_at=MAY_1)]) == 1
    placed = await rows(database, "SELECT tableoid::regclass::text, id FROM ratings ORDER BY id")
    assert placed == [
        ("ratings_2026_05", "00000000-0000-7000-8000-000000000001"),
        ("ratings_2026_05", "stray"),
    ]


async def test_a_large_batch_is_copied_and_deduplicated_in_one_transaction(
    storage: PostgresStorage,
) -> None:
    batch = [rating(n, stars=n % 5 + 1, received_at=DAY_ONE + n * 60_000) for n in range(1000)]
    batch += batch[:10]  # ids delivered twice in the same batch
    batch += [rating(2000 + n, transaction=f"APP-{n % 5}") for n in range(10)]
    assert await storage.store(batch) == 1005
    # Half of it again, and 500 new ones.
    again = batch[500:1000] + [rating(n, received_at=DAY_ONE + n) for n in range(1000, 1500)]
    assert await storage.store(again) == 500
    figures = await storage.summary("svc", None, None)
    assert (figures.count, sum(figures.stars)) == (1505, 1505)
    assert await storage.count_ratings() == 1505


async def test_concurrent_flushers_store_each_rating_once(postgres_url: str) -> None:
    first, second = PostgresStorage(postgres_url), PostgresStorage(postgres_url)
    try:
        await first.migrate()
        shared = [rating(n, transaction=f"T-{n % 50}") for n in range(100)]
        left = shared + [rating(n, received_at=MARCH_1) for n in range(100, 200)]
        right = shared[::-1] + [rating(n, received_at=MARCH_1) for n in range(150, 250)]
        stored = await asyncio.gather(first.store(left), second.store(right))
        assert sum(stored) == 50 + 150  # one rating per transaction, each id once
        assert await first.count_ratings() == 200
        assert (await second.summary("svc", None, None)).count == 200
    finally:
        await first.close()
        await second.close()


async def test_a_connection_lost_mid_batch_is_reported_unavailable(
    storage: PostgresStorage, database: psycopg.AsyncConnection[tuple[object, ...]]
) -> None:
    await storage.ping()
    async with database.transaction():
        # Hold the batch at its first statement, then cut its connection.
        await database.execute(advisory_lock(ZONES_LOCK))
        attempt = asyncio.create_task(storage.store([rating(1)]))
        await wait_for_lock_waiters(database, 1)
        await database.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'civic-feedback' AND wait_event_type = 'Lock'"
        )
        with pytest.raises(StorageUnavailable):
            await attempt
    # The flusher's retry gets a new connection and stores the batch.
    assert await storage.store([rating(1)]) == 1


async def test_an_unreachable_server_is_reported_unavailable() -> None:
    storage = PostgresStorage(
        f"postgresql://postgres@127.0.0.1:{free_port()}/nothing", wait_seconds=0.2
    )
    try:
        with pytest.raises(StorageUnavailable):
            await storage.ping()
        with pytest.raises(StorageUnavailable):
            await storage.store([rating(1)])
    finally:
        await storage.close()


# SQLSTATEs that a test cannot easily provoke on a healthy server, from their classes.
@pytest.mark.parametrize(
    ("error", "reported_as"),
    [
        (errors.AdminShutdown, StorageUnavailable),
        (errors.ConnectionFailure, StorageUnavailable),
        (errors.SerializationFailure, StorageUnavailable),
        (errors.DeadlockDetected, StorageUnavailable),
        (errors.QueryCanceled, StorageUnavailable),
        (errors.DiskFull, StorageUnavailable),
        (errors.InsufficientPrivilege, StorageUnavailable),
        (errors.UndefinedTable, StorageUnavailable),
        (errors.UniqueViolation, RecordRejected),
        (errors.CheckViolation, RecordRejected),
        (errors.NumericValueOutOfRange, RecordRejected),
        (errors.InvalidTextRepresentation, RecordRejected),
        (errors.UntranslatableCharacter, RecordRejected),
        (errors.ProgramLimitExceeded, RecordRejected),
    ],
)
def test_outages_are_retried_and_bad_data_refused(
    error: type[psycopg.Error], reported_as: type[Exception]
) -> None:
    assert type(_classify(error("from the server"))) is reported_as


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"comment": "nul \x00 inside"}, "0x00"),  # PostgreSQL text cannot hold NUL
        ({"answers": {"resolved": "y\x00"}}, "Unicode escape"),
        ({"stars": 2**32 + 5}, "integer out of range"),
        ({"answer_seconds": 2**63}, "int too big"),
        ({"stars": 0}, "check constraint"),
    ],
    ids=["nul-in-comment", "nul-in-answer", "rating-over-int4", "seconds-over-int8", "stars-0"],
)
async def test_refused_data_is_record_rejected_and_rolls_back_the_batch(
    storage: PostgresStorage, changes: dict[str, object], reason: str
) -> None:
    with pytest.raises(RecordRejected, match=reason):
        await storage.store([rating(1), rating(2, **changes)])  # type: ignore[arg-type]
    assert await storage.count_ratings() == 0
    assert (await storage.summary("svc", None, None)).count == 0
    assert await storage.store([rating(1)]) == 1  # the flusher's row-by-row retry


async def test_migrations_queue_when_processes_start_together(
    postgres_url: str, database: psycopg.AsyncConnection[tuple[object, ...]]
) -> None:
    script = (
        "import asyncio, sys; from collector.storage import open_storage\n"
        "async def main():\n"
        "    storage = open_storage(sys.argv[1])\n"
        "    await storage.migrate()\n"
        "    await storage.close()\n"
        "asyncio.run(main())\n"
    )
    async with database.transaction():
        await database.execute(advisory_lock(MIGRATIONS_LOCK))
        processes = [
            await asyncio.create_subprocess_exec(sys.executable, "-c", script, postgres_url)
            for _ in range(3)
        ]
        await wait_for_lock_waiters(database, 3)
    assert [await process.wait() for process in processes] == [0, 0, 0]
    assert await rows(database, "SELECT version FROM schema_migrations") == [
        (v,) for v in range(1, 6)
    ]
    storage = PostgresStorage(postgres_url)
    try:
        await storage.migrate()  # and once more, with nothing to do
        assert await storage.store([rating(1)]) == 1
    finally:
        await storage.close()


async def test_a_zone_unknown_to_python_counts_in_utc(storage: PostgresStorage) -> None:
    await storage.save_tenant("t1", "Agency")
    await storage.save_service(Service(slug="svc", tenant_id="t1", name="Service"))
    assert await storage.set_tenant_time_zone("t1", "Mars/Olympus_Mons")
    await storage.store([rating(1, received_at=DAY_ONE + 23 * 3_600_000)])
    series = await storage.time_series("svc", JAN_1, JAN_1, "day")
    assert [(point.key, point.figures.count) for point in series] == [("2026-01-01", 1)]


@pytest.fixture
def c_locale_url(postgres_server: str) -> Iterator[str]:
    """A database whose LC_CTYPE is C, where lower() and ILIKE fold ASCII only."""
    name = f"civic_feedback_c_{uuid.uuid4().hex[:12]}"
    create = sql.SQL("CREATE DATABASE {} LOCALE_PROVIDER libc LOCALE 'C' TEMPLATE template0")
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(create.format(sql.Identifier(name)))
    yield urlsplit(postgres_server)._replace(path=f"/{name}").geturl()
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


async def test_comment_search_folds_case_whatever_the_database_locale(c_locale_url: str) -> None:
    storage = open_storage(c_locale_url.replace("postgresql://", "postgres://", 1))
    try:
        await storage.migrate()
        await storage.store([rating(1, comment="Очень ДОЛГАЯ очередь"), rating(2, comment="Ok")])
        found = await storage.comments(CommentQuery(services=("svc",), text="долгая"))
        assert [row.comment for row in found] == ["Очень ДОЛГАЯ очередь"]
    finally:
        await storage.close()
