"""A reply lost after the server ran the command, between a real flusher (or the hot
path's client) and the real server (tests/faults/redis_proxy.py): the flusher neither
loses sight of what it read nor counts an acknowledgement twice, and the hot path
neither calls a citizen's first send a duplicate nor counts a refusal twice.

The claim idle time stays at its default of 60 s, so only the flusher reading its own
pending entries again can store a batch within seconds of the loss.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from collector import keys
from collector.buffer import Outcome, RateLimit, RatingBuffer
from collector.errors import ServiceUnavailable
from collector.flusher import Flusher
from collector.impression_counter import FLOOD, ImpressionCounter
from collector.messages import EVENT_ENCODER
from collector.redis_clients import RedisClient, flusher_client, hot_path_client, reply_text
from collector.rejections import RejectionCounter
from collector.runtime import Runtime
from tests.faults.redis_proxy import Command, RedisProxy, succeeded
from tests.helpers import event, eventually, pending
from tests.impressions import Clock, live_views

DROPS = 20
STORED_WITHIN_SECONDS = 5.0
CLAIM_IDLE_MILLISECONDS = 60_000  # FLUSH_CLAIM_IDLE_SECONDS' default
BLOCK_MILLISECONDS = 100


def new_entries_read(command: Command, reply: bytes) -> bool:
    """The reply to an XREADGROUP `>` that delivered entries (not a timed-out block)."""
    return (
        command[0].upper() == b"XREADGROUP"
        and command[-1] == b">"
        and succeeded(reply)
        and not reply.startswith((b"_", b"*-1"))
    )


def acknowledgement(command: Command, reply: bytes) -> bool:
    """The reply to the acknowledgement script: the one call naming the dead letters
    and the flush metrics together."""
    return (
        command[0].upper() in (b"EVALSHA", b"EVAL")
        and keys.DEAD_LETTERS.encode() in command
        and keys.FLUSH_METRICS.encode() in command
        and succeeded(reply)
    )


def submission(command: Command, reply: bytes) -> bool:
    """The reply to the submit script: the call naming a form's nonce key."""
    nonce_prefix = keys.form_nonce("demo-passport", "").encode()
    return (
        command[0].upper() == b"EVALSHA"
        and any(word.startswith(nonce_prefix) for word in command)
        and succeeded(reply)
    )


def view_push(command: Command, reply: bytes) -> bool:
    """The reply to an impression push's script: the call naming the views hash."""
    return (
        command[0].upper() == b"EVALSHA"
        and keys.IMPRESSIONS.encode() in command
        and succeeded(reply)
    )


def refusal_total(command: Command, reply: bytes) -> bool:
    """The reply to the last command of a refusal's count: HINCRBY of the totals."""
    return command[:2] == [b"HINCRBY", keys.REJECTIONS_TOTAL.encode()] and succeeded(reply)


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[RedisProxy]:
    started = RedisProxy(redis_url)
    await started.start()
    yield started
    await started.close()


@pytest.fixture
async def proxied_flusher(runtime: Runtime, proxy: RedisProxy) -> AsyncIterator[Flusher]:
    """A running flusher whose client (the product's) talks to Redis through the proxy."""
    flusher = Flusher(
        flusher_client(proxy.url, BLOCK_MILLISECONDS),
        runtime.storage,
        consumer="behind-the-proxy",
        block_milliseconds=BLOCK_MILLISECONDS,
        claim_idle_milliseconds=CLAIM_IDLE_MILLISECONDS,
    )
    running = asyncio.create_task(flusher.run())
    yield flusher
    flusher.stop()
    await asyncio.wait_for(running, 30)
    await flusher.close()


async def add_at_once(runtime: Runtime, ratings: int, undecodable: int = 0) -> None:
    """XADD in one MULTI: the blocked flusher is woken once and reads them together."""
    async with runtime.redis.pipeline(transaction=True) as transaction:
        for _ in range(ratings):
            transaction.xadd(keys.STREAM, {"e": EVENT_ENCODER.encode(event())})
        for _ in range(undecodable):
            transaction.xadd(keys.STREAM, {"e": b"not a rating"})
        await transaction.execute()


def all_stored(runtime: Runtime, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await runtime.storage.count_ratings() == count and await pending(runtime) == 0

    return check


async def flush_figures(runtime: Runtime) -> dict[str, str]:
    figures = await runtime.redis.hgetall(keys.FLUSH_METRICS)
    return {reply_text(name): reply_text(value) for name, value in figures.items()}


async def test_a_lost_read_reply_is_read_again_at_once(
    runtime: Runtime, proxy: RedisProxy, proxied_flusher: Flusher
) -> None:
    for drop in range(DROPS):
        proxy.drop_next(new_entries_read)
        await add_at_once(runtime, 3)
        await asyncio.wait_for(proxy.dropped.wait(), 10)
        # Not XAUTOCLAIM (60 s): the flusher read its own pending entries again.
        await eventually(all_stored(runtime, 3 * (drop + 1)), STORED_WITHIN_SECONDS)
    assert proxy.drops == DROPS
    assert all(command[-1] == b">" for command in proxy.lost)
    assert await runtime.redis.xlen(keys.DEAD_LETTERS) == 0


async def test_a_lost_acknowledgement_reply_counts_once(
    runtime: Runtime, proxy: RedisProxy, proxied_flusher: Flusher
) -> None:
    for drop in range(DROPS):
        proxy.drop_next(acknowledgement)
        await add_at_once(runtime, 2, undecodable=1)
        await asyncio.wait_for(proxy.dropped.wait(), 10)
        await eventually(all_stored(runtime, 2 * (drop + 1)), STORED_WITHIN_SECONDS)
    # One more batch, whose reply is not lost: the flusher has finished with every
    # earlier one, so nothing that would count twice is still on its way.
    await add_at_once(runtime, 1)
    await eventually(all_stored(runtime, 2 * DROPS + 1), STORED_WITHIN_SECONDS)
    assert proxy.drops == DROPS
    assert await runtime.redis.xlen(keys.DEAD_LETTERS) == DROPS
    figures = await flush_figures(runtime)
    assert int(figures["entries"]) == 3 * DROPS + 1
    assert int(figures["stored"]) == 2 * DROPS + 1
    assert int(figures["dead_letters"]) == DROPS
    assert int(figures["batches"]) == DROPS + 1
    assert int(figures["duplicates"]) == 0
    assert (await runtime.storage.summary("demo-passport", None, None)).count == 2 * DROPS + 1


@pytest.fixture
async def proxied_hot_path(proxy: RedisProxy) -> AsyncIterator[RedisClient]:
    """The hot path's client (the product's), talking to Redis through the proxy."""
    client = hot_path_client(proxy.url)
    yield client
    await client.aclose()


async def test_a_lost_submit_reply_is_not_a_duplicate(
    runtime: Runtime, proxy: RedisProxy, proxied_hot_path: RedisClient
) -> None:
    buffer = RatingBuffer(
        proxied_hot_path,
        client_limit=RateLimit(30, burst=30),
        service_limit=RateLimit(1000, burst=1000),
        nonce_ttl_seconds=60,
    )
    rating = event()
    proxy.drop_next(submission)
    # Redis stored it, but the collector cannot know: it says so (spool or "not
    # saved"), instead of re-sending and calling the citizen's first send a duplicate.
    with pytest.raises(ServiceUnavailable):
        await buffer.submit(rating, "form-1")
    assert proxy.drops == 1
    assert await runtime.redis.xlen(keys.STREAM) == 1
    # The spool's replay, or the citizen sending the form again: stored once.
    assert (await buffer.submit(rating, "form-1")).outcome is Outcome.DUPLICATE
    assert await runtime.redis.xlen(keys.STREAM) == 1


async def test_a_lost_refusal_count_reply_counts_once(
    runtime: Runtime, proxy: RedisProxy, proxied_hot_path: RedisClient
) -> None:
    rejections = RejectionCounter(proxied_hot_path)
    proxy.drop_next(refusal_total)
    await rejections.count("demo-passport", "honeypot")  # never fails a request
    assert proxy.drops == 1
    assert await rejections.read(["demo-passport"], days=1) == {"demo-passport": {"honeypot": 1}}
    total = await runtime.redis.hget(keys.REJECTIONS_TOTAL, "honeypot")
    assert total == b"1"


async def test_a_lost_view_push_reply_counts_views_and_refusals_once(
    runtime: Runtime, proxy: RedisProxy, proxied_hot_path: RedisClient
) -> None:
    counter = ImpressionCounter(proxied_hot_path, clock=Clock())
    for client in ("first", "second", "third", "third"):  # the last refused in memory
        counter.count("demo-passport", client)
    proxy.drop_next(view_push)
    assert not await counter.push()  # Redis ran it; the counter cannot know
    assert proxy.drops == 1
    counter.count("demo-passport", "fourth")
    counter.count("demo-passport", "first")  # a repeat: refused by Redis
    assert await counter.push()  # the lost part again, then the new one
    assert sum((await live_views(runtime.redis)).values()) == 4
    totals = await runtime.redis.hgetall(keys.REJECTIONS_TOTAL)
    assert {reply_text(name): int(value) for name, value in totals.items()} == {FLOOD: 2}
    assert counter.waiting() == {}
    assert counter.refused_waiting() == {}
