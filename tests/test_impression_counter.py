"""The impression counter against real Redis: views per service and quarter hour, one
round trip per push, kept through outages within a bound; and the widget counts each
form it shows, once."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Redis

from collector.embedded_redis import EmbeddedRedis, free_port
from collector.impression_counter import ImpressionCounter
from collector.redis_clients import hot_path_client
from collector.runtime import Runtime
from tests.helpers import eventually, form_token
from tests.impressions import (
    NOON,
    NOON_QUARTER,
    QUARTER,
    Clock,
    counting_widget,
    live_views,
    viewer,
)

SERVICE = "demo-passport"


async def test_views_are_counted_per_service_and_quarter_hour(runtime: Runtime) -> None:
    clock = Clock()
    counter = ImpressionCounter(runtime.redis, clock=clock)
    for service in ("a", "a", "b"):
        counter.count(service, viewer())
    clock.seconds = NOON + 899.9  # still the same quarter hour
    counter.count("a", viewer())
    clock.seconds = NOON + 900
    counter.count("a", viewer())
    assert counter.waiting() == {
        ("a", NOON_QUARTER): 3,
        ("b", NOON_QUARTER): 1,
        ("a", NOON_QUARTER + QUARTER): 1,
    }

    assert await counter.push()
    assert counter.waiting() == {}
    assert await live_views(runtime.redis) == {
        f"a|{NOON_QUARTER}": 3,
        f"b|{NOON_QUARTER}": 1,
        f"a|{NOON_QUARTER + QUARTER}": 1,
    }
    clock.seconds = NOON
    counter.count("b", viewer())
    assert await counter.push()  # adds to what is there
    assert (await live_views(runtime.redis))[f"b|{NOON_QUARTER}"] == 2
    assert await counter.push()  # nothing counted: nothing sent
    assert len(await live_views(runtime.redis)) == 3


async def test_a_push_is_one_script_of_increments(runtime: Runtime) -> None:
    """One script, all fields or none, and on a Redis Cluster too (no MULTI)."""
    counter = ImpressionCounter(runtime.redis, clock=Clock())
    for service in ("a", "b", "c", "a"):
        counter.count(service, viewer())
    await runtime.redis.script_flush()  # the first push loads the script: counted below
    await runtime.redis.config_resetstat()
    assert await counter.push()
    calls = {
        name.removeprefix("cmdstat_"): int(stats["calls"])
        for name, stats in (await runtime.redis.info("commandstats")).items()
    }
    # EVALSHA twice: NOSCRIPT, then after SCRIPT LOAD the run that made the 3 HINCRBYs,
    # after a SET NX per (service, client) pair; GET and SET of the part's marker.
    assert calls == {
        "config|resetstat": 1,
        "script|load": 1,
        "evalsha": 2,
        "get": 1,
        "set": 5,
        "hincrby": 3,
    }


async def test_views_wait_through_a_redis_outage(
    private_redis: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    redis = hot_path_client(private_redis.url)
    counter = ImpressionCounter(redis, clock=Clock())
    try:
        counter.count("a", viewer())
        counter.count("a", viewer())
        private_redis.stop()
        with caplog.at_level(logging.WARNING, logger="collector.impression_counter"):
            assert not await counter.push()
            counter.count("a", viewer())
            counter.count("b", viewer())
            assert not await counter.push()
        assert counter.waiting() == {("a", NOON_QUARTER): 3, ("b", NOON_QUARTER): 1}
        warnings = [r.message for r in caplog.records if r.name == "collector.impression_counter"]
        assert len(warnings) == 1  # once per outage, not once a second
        assert warnings[0].startswith("impressions: Redis failed, views kept in memory")

        private_redis.start()
        assert await counter.push()
        assert counter.waiting() == {}
        assert await live_views(redis) == {f"a|{NOON_QUARTER}": 3, f"b|{NOON_QUARTER}": 1}
        assert counter.dropped == 0
    finally:
        await redis.aclose()


async def test_kept_views_are_bounded_oldest_dropped_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nobody_listens = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", protocol=3)
    clock = Clock()
    counter = ImpressionCounter(nobody_listens, maximum_views=4, clock=clock)
    try:
        for quarter in range(5):
            clock.seconds = NOON + quarter * 900
            counter.count("a", viewer())
        counter.count("a", viewer())  # a second view in the newest quarter
        with caplog.at_level(logging.WARNING, logger="collector.impression_counter"):
            assert not await counter.push()
            assert counter.waiting() == {
                ("a", NOON_QUARTER + 2 * QUARTER): 1,
                ("a", NOON_QUARTER + 3 * QUARTER): 1,
                ("a", NOON_QUARTER + 4 * QUARTER): 2,
            }
            assert counter.dropped == 2
            clock.seconds = NOON + 5 * 900
            counter.count("a", viewer())
            assert not await counter.push()
        assert counter.waiting() == {
            ("a", NOON_QUARTER + 3 * QUARTER): 1,
            ("a", NOON_QUARTER + 4 * QUARTER): 2,
            ("a", NOON_QUARTER + 5 * QUARTER): 1,
        }
        assert counter.dropped == 3
        dropping = [r for r in caplog.records if "dropping the oldest" in r.message]
        assert len(dropping) == 1
    finally:
        await nobody_listens.aclose()


async def test_run_pushes_every_interval_and_once_more_on_stop(runtime: Runtime) -> None:
    counter = ImpressionCounter(runtime.redis, push_interval_seconds=0.01, clock=Clock())
    task = asyncio.create_task(counter.run())
    counter.count("a", viewer())

    async def pushed() -> bool:
        return await live_views(runtime.redis) == {f"a|{NOON_QUARTER}": 1}

    await eventually(pushed)
    counter.stop()
    await task

    # Counted after the last periodic push: stop() pushes it.
    rarely = ImpressionCounter(runtime.redis, push_interval_seconds=3600, clock=Clock())
    task = asyncio.create_task(rarely.run())
    rarely.count("a", viewer())
    rarely.count("b", viewer())
    rarely.stop()
    await task
    assert await live_views(runtime.redis) == {f"a|{NOON_QUARTER}": 2, f"b|{NOON_QUARTER}": 1}


async def test_the_widget_counts_each_form_shown_and_nothing_else(runtime: Runtime) -> None:
    counter = ImpressionCounter(runtime.redis, clock=Clock())
    async with (
        counting_widget(runtime, counter) as client,
        counting_widget(runtime, counter, "198.51.100.9") as another_client,
    ):
        first = await client.get(f"/w/{SERVICE}")
        second = await another_client.get(f"/w/{SERVICE}?lang=ru&layout=compact")
        assert first.status_code == second.status_code == 200
        assert counter.waiting() == {(SERVICE, NOON_QUARTER): 2}

        not_shown = [
            await client.head(f"/w/{SERVICE}"),
            await client.get("/w/no-such-service"),
            await client.get(f"/w/{SERVICE}?t=not-a-portal-token"),  # refused
            await client.get(f"/w/{SERVICE}/thanks"),
            await client.get(f"/w/{SERVICE}/qr.svg"),
            await client.post(f"/w/{SERVICE}", data={"token": form_token(first.text)}),
            await client.post(
                f"/w/{SERVICE}", data={"token": form_token(second.text), "rating": "4"}
            ),
        ]
        assert [response.status_code for response in not_shown] == [
            200,
            404,
            403,
            200,
            200,
            422,  # the form again, with its error: not a new view
            303,
        ]
        assert counter.waiting() == {(SERVICE, NOON_QUARTER): 2}
