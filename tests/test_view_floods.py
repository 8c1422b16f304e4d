"""Widget views cannot be inflated: one view per client, service and few minutes,
decided in the impression counter's one push, with refusals counted by reason, and
the counter's memory and Redis's bounded under a flood from many addresses."""

from __future__ import annotations

import httpx
import pytest

from collector import keys
from collector.impression_counter import (
    FLOOD,
    MAXIMUM_PENDING_VIEWS,
    OVERFLOW,
    VIEW_WINDOW_SECONDS,
    ImpressionCounter,
)
from collector.impression_flusher import ImpressionFlusher
from collector.redis_clients import reply_text
from collector.runtime import Runtime
from tests.clock import StoppedClock
from tests.conftest import REDIS_LAYOUTS
from tests.helpers import asgi_transport, bearer, stored_rating
from tests.impressions import counting_widget, live_views, viewer

SERVICE = "demo-passport"


@pytest.fixture(params=REDIS_LAYOUTS)
def redis_layout(request: pytest.FixtureRequest) -> str:
    """The push's script touches one slot: it runs on a Redis Cluster too."""
    return str(request.param)


def from_address(runtime: Runtime, address: str) -> httpx.AsyncClient:
    transport = asgi_transport(runtime, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://collector.test")


async def show_forms(runtime: Runtime, address: str, times: int = 1) -> None:
    async with from_address(runtime, address) as client:
        for _ in range(times):
            assert (await client.get(f"/w/{SERVICE}")).status_code == 200


async def summary(runtime: Runtime, client: httpx.AsyncClient) -> dict[str, object]:
    token = runtime.analyst_tokens.issue("demo")
    response = await client.get(f"/api/v1/services/{SERVICE}/summary", headers=bearer(token))
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


async def refused(runtime: Runtime, client: httpx.AsyncClient) -> dict[str, int]:
    token = runtime.analyst_tokens.issue("demo", role="admin")
    report = await client.get("/api/v1/admin/rejections", headers=bearer(token))
    counts: dict[str, int] = report.json()["services"].get(SERVICE, {})
    return counts


async def redis_calls(runtime: Runtime) -> dict[str, int]:
    stats = await runtime.redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def view_keys(runtime: Runtime) -> int:
    """The view keys live in Redis, as an operator would count them."""
    pattern = keys.view("*", "*")
    return len([key async for key in runtime.redis.scan_iter(match=pattern, count=1000)])


async def test_a_flood_from_one_address_leaves_the_response_rate_as_it_was(
    runtime: Runtime, client: httpx.AsyncClient, clock: StoppedClock
) -> None:
    ratings = [stored_rating(n, service=SERVICE, received_at=clock.milliseconds) for n in (1, 2)]
    assert await runtime.storage.store(ratings) == 2
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"):
        await show_forms(runtime, address)
    assert await runtime.impressions.push()
    flusher = ImpressionFlusher(runtime.redis, runtime.storage)
    assert await flusher.run_once() == 4
    before = await summary(runtime, client)
    assert (before["impressions"], before["response_rate"]) == (4, 0.5)

    # 500 forms to one address that had seen it, over two pushes: no Redis call per
    # form, one script per push, and not one more view.
    # (Counted on one server: a cluster client's INFO answers for one node.)
    one_server = not runtime.settings.redis_cluster
    await runtime.redis.config_resetstat()
    await show_forms(runtime, "198.51.100.4", 250)
    if one_server:
        assert await redis_calls(runtime) == {"config|resetstat": 1}
    assert await runtime.impressions.push()
    await show_forms(runtime, "198.51.100.4", 250)
    assert await runtime.impressions.push()
    if one_server:
        assert (await redis_calls(runtime))["evalsha"] == 2
    await flusher.run_once()
    after = await summary(runtime, client)
    assert (after["impressions"], after["response_rate"]) == (4, 0.5)
    assert await refused(runtime, client) == {FLOOD: 500}


async def test_a_client_counts_once_across_workers_and_pushes(runtime: Runtime) -> None:
    first_worker = ImpressionCounter(runtime.redis)
    second_worker = ImpressionCounter(runtime.redis)
    first_worker.count(SERVICE, "a-client")
    first_worker.count(SERVICE, "a-client")  # refused in memory
    second_worker.count(SERVICE, "a-client")
    second_worker.count(SERVICE, "another-client")
    assert first_worker.refused_waiting() == {(SERVICE, FLOOD): 1}
    assert await first_worker.push()
    assert await second_worker.push()
    first_worker.count(SERVICE, "a-client")  # refused by Redis: its key is set
    assert await first_worker.push()
    views = await runtime.redis.hgetall(keys.IMPRESSIONS)
    assert sum(int(value) for value in views.values()) == 2
    counted = await runtime.redis.hgetall(keys.REJECTIONS_TOTAL)
    assert {reply_text(name): int(value) for name, value in counted.items()} == {FLOOD: 3}
    remaining = await runtime.redis.ttl(keys.view(SERVICE, "a-client"))
    assert 0 < remaining <= 300


async def test_a_flood_from_many_addresses_is_bounded_in_memory(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    # 100 pairs in 4 scripts of up to 30, in one pipeline.
    counter = ImpressionCounter(
        runtime.redis, maximum_views=100, pairs_per_script=30, clock=runtime.clock
    )
    for _ in range(1000):
        counter.count(SERVICE, viewer())
    assert sum(counter.waiting().values()) == 100
    assert counter.dropped == 900
    assert counter.refused_waiting() == {(SERVICE, OVERFLOW): 900}
    assert await counter.push()
    views = await runtime.redis.hgetall(keys.IMPRESSIONS)
    assert sum(int(value) for value in views.values()) == 100
    assert await refused(runtime, client) == {OVERFLOW: 900}


async def test_a_flood_of_new_addresses_leaves_a_bounded_number_of_view_keys(
    runtime: Runtime, client: httpx.AsyncClient, clock: StoppedClock
) -> None:
    # 50 new addresses a second for 4 seconds, to a worker that admits 20 a second.
    per_interval, seconds, addresses = 20, 4, 50
    counter = ImpressionCounter(runtime.redis, new_pairs_per_interval=per_interval, clock=clock)
    for second in range(seconds):
        for n in range(addresses):
            async with counting_widget(runtime, counter, f"10.0.{second}.{n}") as widget:
                assert (await widget.get(f"/w/{SERVICE}")).status_code == 200
        assert await counter.push()
        clock.advance(1)
    # Keys live 5 minutes: at most per_interval x (300 + 1) per worker, plus what it
    # held through an outage (docs/analytics.md).
    bound = per_interval * (VIEW_WINDOW_SECONDS + 1) + MAXIMUM_PENDING_VIEWS
    assert await view_keys(runtime) == per_interval * seconds <= bound
    assert sum((await live_views(runtime.redis)).values()) == per_interval * seconds
    refusals = (addresses - per_interval) * seconds
    assert await refused(runtime, client) == {OVERFLOW: refusals}
    assert counter.dropped == refusals


async def test_the_addresses_of_one_ipv6_network_are_one_viewer(
    runtime: Runtime, client: httpx.AsyncClient, clock: StoppedClock
) -> None:
    """A phone's privacy addresses change within its /64: still one view."""
    counter = ImpressionCounter(runtime.redis, clock=clock)
    one_network = [f"2001:db8:5:7:{n:x}:a1:b2:c3" for n in range(1, 40)]
    others = ["2001:db8:5:8::1", "198.51.100.7", "::ffff:198.51.100.8", "198.51.100.8"]
    for address in [*one_network, *others]:
        async with counting_widget(runtime, counter, address) as widget:
            assert (await widget.get(f"/w/{SERVICE}")).status_code == 200
    assert await counter.push()
    assert sum((await live_views(runtime.redis)).values()) == 4
    assert await view_keys(runtime) == 4
    # 38 more addresses of the network, and 198.51.100.8 again (seen as IPv6 first).
    assert await refused(runtime, client) == {FLOOD: len(one_network) - 1 + 1}
