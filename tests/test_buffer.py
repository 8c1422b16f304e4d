"""The submit script: duplicate check, rate limit and XADD in one round trip; on one
stream, on three shards of one server, and on three shards of a Redis Cluster.

Tests of one stream's keys pick nonces that go to shard 0 (nonce_on_shard), so they
read the same in every layout."""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec
import pytest
from redis.exceptions import ResponseError

from collector import keys
from collector.buffer import Outcome, RateLimit, RatingBuffer
from collector.embedded_redis import EmbeddedRedis
from collector.errors import ServiceUnavailable
from collector.ids import new_rating_id
from collector.messages import EVENT_DECODER, RatingEvent
from collector.redis_clients import RedisClient, hot_path_client
from collector.runtime import Runtime
from collector.settings import Settings
from tests.conftest import REDIS_LAYOUTS
from tests.helpers import buffered, eventually, nonce_on_shard, stream_entries


@pytest.fixture(params=REDIS_LAYOUTS)
def redis_layout(request: pytest.FixtureRequest) -> str:
    return str(request.param)


CLIENT = "a" * 24


def event(service: str = "demo-passport") -> RatingEvent:
    return RatingEvent(
        id=new_rating_id(),
        service=service,
        rating=5,
        comment="ok",
        language="en",
        channel="web",
        received_at=int(time.time() * 1000),
    )


def limited_buffer(
    redis: RedisClient, *, client: int = 3, service: int = 1000, shards: int = 1
) -> RatingBuffer:
    """A client may send 3 at once, then one every 20 s; a service 1000 at once."""
    return RatingBuffer(
        redis,
        client_limit=RateLimit(client, burst=client),
        service_limit=RateLimit(service, burst=service),
        nonce_ttl_seconds=60,
        shards=shards,
    )


@pytest.fixture
def buffer(runtime: Runtime) -> RatingBuffer:
    return limited_buffer(runtime.redis, shards=runtime.settings.redis_shards)


@pytest.fixture
def zero(settings: Settings) -> Callable[[str], str]:
    """A nonce starting with the text whose rating goes to shard 0."""
    return lambda text: nonce_on_shard(text, 0, settings.redis_shards)


async def test_accepted_rating_is_in_the_stream(buffer: RatingBuffer, runtime: Runtime) -> None:
    sent = event()
    result = await buffer.submit(sent, "nonce-1", client_hash=CLIENT)
    assert result.outcome is Outcome.ACCEPTED
    entries = await stream_entries(runtime.redis, keys.stream(result.shard))
    assert [entry_id.decode() for entry_id, _ in entries] == [result.stream_id]
    assert EVENT_DECODER.decode(entries[0][1][b"e"]) == sent


async def test_same_nonce_is_a_duplicate(buffer: RatingBuffer, runtime: Runtime) -> None:
    first = await buffer.submit(event(), "n", client_hash=CLIENT)
    assert first.outcome is Outcome.ACCEPTED
    assert (await buffer.submit(event(), "n", client_hash=CLIENT)).outcome is Outcome.DUPLICATE
    assert await buffered(runtime) == 1
    ttl = await runtime.redis.pttl(keys.form_nonce("demo-passport", "n", first.shard))
    assert 0 < ttl <= 60_000


async def test_rate_limit_per_client_and_service(
    buffer: RatingBuffer, runtime: Runtime, zero: Callable[[str], str]
) -> None:
    outcomes = [
        (await buffer.submit(event(), zero(f"n{n}"), client_hash=CLIENT)).outcome for n in range(4)
    ]
    assert outcomes == [Outcome.ACCEPTED] * 3 + [Outcome.RATE_LIMITED]
    # Another client, and the same client on another service, are not limited.
    assert (await buffer.submit(event(), "x1", client_hash="b" * 24)).outcome is Outcome.ACCEPTED
    assert (
        await buffer.submit(event(service="other"), "x2", client_hash=CLIENT)
    ).outcome is Outcome.ACCEPTED
    assert await buffered(runtime) == 5


async def test_the_client_limit_applies_per_shard(buffer: RatingBuffer, runtime: Runtime) -> None:
    """Not split: a client's few ratings spread unevenly, and a split limit would refuse
    it below its limit. Up to shards x the limit gets through in the worst case."""
    shards = runtime.settings.redis_shards
    for shard in range(shards):
        for n in range(3):
            result = await buffer.submit(
                event(), nonce_on_shard(f"c{n}", shard, shards), client_hash=CLIENT
            )
            assert (result.outcome, result.shard) == (Outcome.ACCEPTED, shard)
    refused = await buffer.submit(
        event(), nonce_on_shard("c3", shards - 1, shards), client_hash=CLIENT
    )
    assert refused.outcome is Outcome.RATE_LIMITED
    assert await buffered(runtime) == 3 * shards


async def test_ratings_spread_over_every_shard(buffer: RatingBuffer, runtime: Runtime) -> None:
    results = [
        await buffer.submit(event(), f"spread-{n}", client_hash=f"{n:024d}") for n in range(60)
    ]
    shards = runtime.settings.redis_shards
    for shard in range(shards):
        entries = await stream_entries(runtime.redis, keys.stream(shard))
        expected = {r.stream_id for r in results if r.shard == shard}
        assert {entry_id.decode() for entry_id, _ in entries} == expected
        assert len(expected) >= 60 // shards // 2  # CRC-32 of random nonces: even enough
    assert await buffered(runtime) == 60


async def test_rate_limited_form_can_be_sent_again_later(
    buffer: RatingBuffer, runtime: Runtime, zero: Callable[[str], str]
) -> None:
    for n in range(3):
        await buffer.submit(event(), zero(f"n{n}"), client_hash=CLIENT)
    late = zero("late")
    refused = await buffer.submit(event(), late, client_hash=CLIENT)
    assert refused.outcome is Outcome.RATE_LIMITED
    assert refused.limit == "client"
    # 3 a minute: the next is allowed 20 s after the first (GCRA), not at a window's end.
    assert 19_000 < refused.retry_after_milliseconds <= 20_000
    # The refused form's nonce was not consumed: once the limit allows, it is accepted.
    assert not await runtime.redis.exists(keys.form_nonce("demo-passport", late))
    await runtime.redis.delete(keys.client_rate("demo-passport", CLIENT))
    assert (await buffer.submit(event(), late, client_hash=CLIENT)).outcome is Outcome.ACCEPTED


async def test_the_client_limit_refills_at_its_rate(
    runtime: Runtime, zero: Callable[[str], str]
) -> None:
    """60 000 a minute is one a millisecond: after a burst of 2, the third waits ~1 ms."""
    buffer = RatingBuffer(
        runtime.redis,
        client_limit=RateLimit(60_000, burst=2),
        service_limit=RateLimit(60_000, burst=1000),
        nonce_ttl_seconds=60,
        shards=runtime.settings.redis_shards,
    )
    outcomes = [
        (await buffer.submit(event(), zero(f"b{n}"), client_hash=CLIENT)).outcome for n in range(3)
    ]
    assert outcomes[:2] == [Outcome.ACCEPTED] * 2
    # Polled, not slept on: the limit lets one more through within milliseconds.
    accepted = 0

    async def one_more() -> bool:
        nonlocal accepted
        result = await buffer.submit(event(), zero(f"later{accepted}"), client_hash=CLIENT)
        accepted += result.outcome is Outcome.ACCEPTED
        return accepted > 0

    await eventually(one_more, seconds=2)
    # Its key holds one number, and expires when it no longer limits anything.
    ttl = await runtime.redis.pttl(keys.client_rate("demo-passport", CLIENT))
    # 0: under a millisecond left. Never -1 (no expiry).
    assert ttl == -2 or 0 <= ttl <= 10  # -2: already expired


async def test_the_service_limit_covers_all_clients(
    runtime: Runtime, zero: Callable[[str], str]
) -> None:
    # Split evenly between the shards: 4 a minute on each.
    shards = runtime.settings.redis_shards
    buffer = limited_buffer(runtime.redis, client=100, service=4 * shards, shards=shards)
    clients = [f"{n:024d}" for n in range(5)]
    results = [
        await buffer.submit(event(), zero(f"s{n}"), client_hash=client)
        for n, client in enumerate(clients)
    ]
    assert [result.outcome for result in results] == [Outcome.ACCEPTED] * 4 + [Outcome.RATE_LIMITED]
    assert results[-1].limit == "service"
    assert 14_000 < results[-1].retry_after_milliseconds <= 15_000
    # Another service is not affected, and a refusal by the service limit does not use
    # up the client's own limit.
    assert (
        await buffer.submit(event(service="other"), "o", client_hash=CLIENT)
    ).outcome is Outcome.ACCEPTED
    assert await runtime.redis.get(keys.client_rate("demo-passport", clients[4])) is None
    assert await buffered(runtime) == 5


async def test_replays_are_not_rate_limited_but_still_deduplicated(
    buffer: RatingBuffer, runtime: Runtime, zero: Callable[[str], str]
) -> None:
    nonces = [zero(f"r{n}") for n in range(5)]
    results = [
        await buffer.submit(event(), nonce, rate_limited=False, client_hash=CLIENT)
        for nonce in nonces
    ]
    assert all(result.outcome is Outcome.ACCEPTED for result in results)
    assert not await runtime.redis.exists(keys.client_rate("demo-passport", CLIENT))
    again = await buffer.submit(event(), nonces[0], rate_limited=False, client_hash=CLIENT)
    assert again.outcome is Outcome.DUPLICATE


async def test_unreachable_redis_raises_service_unavailable() -> None:
    from collector.embedded_redis import free_port

    client = hot_path_client(f"redis://127.0.0.1:{free_port()}/0")
    buffer = limited_buffer(client)
    with pytest.raises(ServiceUnavailable, match="did not answer"):
        await buffer.submit(event(), "n", client_hash=CLIENT)
    await client.aclose()


async def test_redis_out_of_memory_is_service_unavailable(private_redis: EmbeddedRedis) -> None:
    """Refused for now, not for good: the spool or the "not saved" page, not a 500."""
    client = hot_path_client(private_redis.url)
    try:
        await client.config_set("maxmemory", "1")
        with pytest.raises(ServiceUnavailable, match="maxmemory"):
            await limited_buffer(client).submit(event(), "n", client_hash=CLIENT)
        await client.config_set("maxmemory", "0")
        accepted = await limited_buffer(client).submit(event(), "n", client_hash=CLIENT)
        assert accepted.outcome is Outcome.ACCEPTED
    finally:
        await client.aclose()


async def test_failed_xadd_does_not_use_up_the_form(
    buffer: RatingBuffer, runtime: Runtime, zero: Callable[[str], str]
) -> None:
    await runtime.redis.set(keys.STREAM, "not a stream")  # XADD now fails with WRONGTYPE
    # A fault that would recur, not an outage: raised as it is (no spool, no "not saved").
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await buffer.submit(event(), zero("n"), client_hash=CLIENT)
    assert not await runtime.redis.exists(keys.form_nonce("demo-passport", zero("n")))
    await runtime.redis.delete(keys.STREAM)
    assert (await buffer.submit(event(), zero("n"), client_hash=CLIENT)).outcome is Outcome.ACCEPTED


async def test_nonce_outlives_the_latest_valid_use_of_its_token(runtime: Runtime) -> None:
    # A token issued up to 60 s "in the future" stays valid 60 s past max_age.
    token = runtime.signer.issue("demo-passport")
    nonce = runtime.signer.verify("demo-passport", token).nonce
    result = await runtime.buffer.submit(event(), nonce, client_hash=CLIENT)
    ttl = await runtime.redis.pttl(keys.form_nonce("demo-passport", nonce, result.shard))
    assert ttl > (runtime.settings.form_token_max_age_seconds + 60) * 1000


async def test_one_rating_per_transaction(buffer: RatingBuffer, runtime: Runtime) -> None:
    """Two forms (two nonces) for one transaction: the second is a duplicate."""
    first = msgspec.structs.replace(event(), transaction="APP-1")
    accepted = await buffer.submit(first, "n1", 30_000, client_hash=CLIENT)
    assert accepted.outcome is Outcome.ACCEPTED
    again = msgspec.structs.replace(event(), transaction="APP-1")
    assert (
        await buffer.submit(again, "n2", 30_000, client_hash=CLIENT)
    ).outcome is Outcome.DUPLICATE
    other = msgspec.structs.replace(event(), transaction="APP-2")
    assert (
        await buffer.submit(other, "n3", 30_000, client_hash=CLIENT)
    ).outcome is Outcome.ACCEPTED
    assert await buffered(runtime) == 2
    # Remembered as long as the token could be accepted, and no longer.
    ttl = await runtime.redis.pttl(keys.transaction("demo-passport", "APP-1", accepted.shard))
    assert 29_000 < ttl <= 30_000
    # A transaction's duplicate does not use up the client's rate limit.
    assert (await buffer.submit(event(), "n4", client_hash=CLIENT)).outcome is Outcome.ACCEPTED


async def test_the_same_reference_in_two_services_is_two_transactions(
    buffer: RatingBuffer,
) -> None:
    permit = msgspec.structs.replace(event(service="permits"), transaction="APP-1")
    passport = msgspec.structs.replace(event(), transaction="APP-1")
    assert (
        await buffer.submit(permit, "n1", 30_000, client_hash=CLIENT)
    ).outcome is Outcome.ACCEPTED
    assert (
        await buffer.submit(passport, "n2", 30_000, client_hash=CLIENT)
    ).outcome is Outcome.ACCEPTED
