"""/metrics: Prometheus text from Redis, the same from every worker."""

from __future__ import annotations

import re
from dataclasses import replace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from collector import keys
from collector.embedded_redis import EmbeddedRedis
from collector.flusher import Flusher
from collector.runtime import Runtime
from collector.settings import Settings
from tests.conftest import make_flusher
from tests.helpers import add, asgi_transport, event, fresh_token, post_rating


def samples(text: str) -> dict[str, float]:
    """name{labels} -> value, for every sample line."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


async def test_an_empty_collector_exposes_zeros(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    values = samples(response.text)
    assert values["civic_feedback_ratings_accepted_total"] == 0
    assert values["civic_feedback_stream_length"] == 0
    assert values["civic_feedback_dead_letters"] == 0
    assert values['civic_feedback_flush_batch_size_bucket{le="+Inf"}'] == 0
    # Every metric has its HELP and TYPE.
    names = set(re.findall(r"^# TYPE (\S+) ", response.text, re.MULTILINE))
    assert names == {
        "civic_feedback_ratings_accepted_total",
        "civic_feedback_requests_rejected_total",
        "civic_feedback_stream_length",
        "civic_feedback_consumer_lag",
        "civic_feedback_pending_entries",
        "civic_feedback_dead_letters",
        "civic_feedback_flushed_stored_total",
        "civic_feedback_flushed_duplicates_total",
        "civic_feedback_flushed_dead_letters_total",
        "civic_feedback_flushed_entries_total",
        "civic_feedback_flush_batch_size",
        "civic_feedback_flush_batch_seconds",
    }


async def test_accepted_rejected_flushed_and_lag(
    client: httpx.AsyncClient, runtime: Runtime, flusher: Flusher
) -> None:
    for stars in (5, 4, 3):
        token = await fresh_token(client)
        assert (
            await post_rating(client, {"token": token, "rating": str(stars)})
        ).status_code == 303
    replayed = await post_rating(client, {"token": token, "rating": "2"})
    assert replayed.status_code == 303  # the thank-you page, nothing stored: a duplicate
    forged = await post_rating(client, {"token": "forged", "rating": "2"})
    assert forged.status_code == 403
    await add(runtime, event(stars=1), event(stars=2))
    await flusher.ensure_group()
    before = samples((await client.get("/metrics")).text)
    assert before["civic_feedback_ratings_accepted_total"] == 5
    assert before["civic_feedback_stream_length"] == 5
    assert before['civic_feedback_consumer_lag{group="flushers"}'] == 5
    assert before['civic_feedback_requests_rejected_total{reason="duplicate"}'] == 1
    assert before['civic_feedback_requests_rejected_total{reason="form_token_malformed"}'] == 1

    await flusher.run_once(block=False)
    after = samples((await client.get("/metrics")).text)
    assert after['civic_feedback_consumer_lag{group="flushers"}'] == 0
    assert after['civic_feedback_pending_entries{group="flushers"}'] == 0
    assert after["civic_feedback_flushed_stored_total"] == 5
    assert after["civic_feedback_flushed_entries_total"] == 5
    assert after["civic_feedback_flush_batch_size_count"] == 1
    assert after['civic_feedback_flush_batch_size_bucket{le="1"}'] == 0
    assert after['civic_feedback_flush_batch_size_bucket{le="10"}'] == 1
    assert after['civic_feedback_flush_batch_size_bucket{le="+Inf"}'] == 1
    assert after["civic_feedback_flush_batch_size_sum"] == 5
    assert after["civic_feedback_flush_batch_seconds_count"] == 1
    assert 0 < after["civic_feedback_flush_batch_seconds_sum"] < 10


async def test_dead_letters_are_counted(
    runtime: Runtime, flusher: Flusher, client: httpx.AsyncClient
) -> None:
    await flusher.ensure_group()
    await runtime.redis.xadd(keys.STREAM, {"e": b"not a rating"})
    await flusher.run_once(block=False)
    values = samples((await client.get("/metrics")).text)
    assert values["civic_feedback_dead_letters"] == 1
    assert values["civic_feedback_flushed_dead_letters_total"] == 1
    assert values["civic_feedback_flushed_stored_total"] == 0


async def test_metrics_answer_503_while_redis_is_down(
    settings: Settings, private_redis: EmbeddedRedis
) -> None:
    runtime = await Runtime.open(replace(settings, redis_url=private_redis.url))
    try:
        async with httpx.AsyncClient(
            transport=asgi_transport(runtime), base_url="http://t"
        ) as client:
            private_redis.stop()
            response = await client.get("/metrics")
            private_redis.start()
            assert (await client.get("/metrics")).status_code == 200
    finally:
        await runtime.close()
    assert response.status_code == 503
    assert response.text.startswith("# Redis unavailable: ")


@pytest.mark.parametrize("redis_layout", ["shards", "cluster"])
async def test_figures_are_summed_over_the_shards(
    client: httpx.AsyncClient, runtime: Runtime, redis_layout: str
) -> None:
    results = [
        await runtime.buffer.submit(event(4), f"sum-{n}", rate_limited=False) for n in range(30)
    ]
    assert {result.shard for result in results} == {0, 1, 2}
    flushers = [make_flusher(runtime, "summing", shard=shard) for shard in range(3)]
    await flushers[0].ensure_group()  # shard 0 flushed; shards 1 and 2 not yet read
    assert await flushers[0].run_once(block=False) > 0
    shard_zero = sum(result.shard == 0 for result in results)

    values = samples((await client.get("/metrics")).text)
    assert values["civic_feedback_ratings_accepted_total"] == 30
    assert values["civic_feedback_flushed_stored_total"] == shard_zero
    ready = (await client.get("/health/ready")).json()
    assert ready["stream_length"] == values["civic_feedback_stream_length"]
    assert ready["consumer_lag"] == 0  # shards 1 and 2 have no group yet: none behind it

    for flusher in flushers[1:]:
        await flusher.ensure_group()
        assert await flusher.run_once(block=False) > 0
    values = samples((await client.get("/metrics")).text)
    assert values["civic_feedback_flushed_stored_total"] == 30
    assert values['civic_feedback_pending_entries{group="flushers"}'] == 0
    for flusher in flushers:
        await flusher.close()


async def test_counters_past_ten_million_keep_every_digit(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """A "%g" format wrote 12,345,678 as 1.23457e+07: 22 ratings lost to rounding."""
    await runtime.buffer.submit(event(4), "one", rate_limited=False)
    await runtime.redis.execute_command(
        "XSETID", keys.stream(0), "9999999999999-0", "ENTRIESADDED", 12_345_679
    )
    await runtime.redis.hset(keys.REJECTIONS_TOTAL, "rate_limited", 98_765_432_101)
    await runtime.redis.hset(
        keys.flush_metrics(0),
        mapping={"stored": 12_345_678, "entries": 23_456_789, "size_le_10000": 10_000_001},
    )
    text = (await client.get("/metrics")).text
    values = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert values[("civic_feedback_ratings_accepted_total", ())] == 12_345_679
    assert values[("civic_feedback_flushed_stored_total", ())] == 12_345_678
    assert values[("civic_feedback_flushed_entries_total", ())] == 23_456_789
    assert values[("civic_feedback_flush_batch_size_sum", ())] == 23_456_789
    assert values[("civic_feedback_flush_batch_size_count", ())] == 10_000_001
    reason = (("reason", "rate_limited"),)
    assert values[("civic_feedback_requests_rejected_total", reason)] == 98_765_432_101
    assert "civic_feedback_flushed_stored_total 1.2345678e+07" in text
