"""The widget while Redis is down, with the spool on: the citizen is thanked, the rating
waits on disk and reaches the stream once Redis is back; without a disk, a 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from collector import keys
from collector.embedded_redis import EmbeddedRedis
from collector.messages import EVENT_DECODER, RatingEvent
from collector.runtime import Runtime
from collector.settings import Settings
from tests.helpers import asgi_transport, eventually, fresh_token, post_rating, stream_entries


@pytest.fixture
async def spooling(settings: Settings, private_redis: EmbeddedRedis) -> AsyncIterator[Runtime]:
    opened = await Runtime.open(replace(settings, redis_url=private_redis.url, spool=True))
    yield opened
    await opened.close()


@pytest.fixture
async def citizen(spooling: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = asgi_transport(spooling)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def in_stream(runtime: Runtime) -> list[RatingEvent]:
    entries = await stream_entries(runtime.redis, keys.STREAM)
    return [EVENT_DECODER.decode(fields[b"e"]) for _, fields in entries]


async def test_redis_down_still_thanks_and_nothing_is_lost(
    citizen: httpx.AsyncClient, spooling: Runtime, private_redis: EmbeddedRedis
) -> None:
    assert spooling.spool is not None
    before = await fresh_token(citizen)
    assert (await post_rating(citizen, {"token": before, "rating": "5"})).status_code == 303
    (rate_key,) = [key async for key in spooling.redis.scan_iter(match="cf:*:rate:*")]
    during = await fresh_token(citizen)
    private_redis.stop()
    fields = {"token": during, "rating": "2", "comment": "queue too long"}
    response = await post_rating(citizen, fields)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/w/demo-passport/thanks")
    assert spooling.spool.waiting()
    # The spool file holds the rating, not the client's hash (its rate limit's key).
    spooled = b"".join(path.read_bytes() for path in spooling.spool.directory.iterdir())
    assert b"queue too long" in spooled
    assert rate_key.rsplit(b":", 1)[1] not in spooled
    assert b"client_hash" not in spooled

    private_redis.start()  # same port and data directory
    replaying = asyncio.create_task(spooling.spool.run(spooling.buffer, spooling.redis))
    try:

        async def arrived() -> bool:
            return len(await in_stream(spooling)) == 2

        await eventually(arrived)
    finally:
        spooling.spool.stop()
        await replaying
    _, second = await in_stream(spooling)
    assert (second.rating, second.comment) == (2, "queue too long")
    assert not spooling.spool.waiting()
    # The citizen sends it again (say, after pressing Back): thanked, stored once.
    assert (await post_rating(citizen, fields)).status_code == 303
    assert len(await in_stream(spooling)) == 2


async def test_a_rating_without_the_days_salt_is_kept_without_the_address(
    settings: Settings, private_redis: EmbeddedRedis
) -> None:
    """Redis was down when this process started (which is when it fetches the salt)
    and since: the rating is spooled as ever (a spooled rating holds no client hash,
    nor the address in its place)."""
    private_redis.stop()
    spooling = await Runtime.open(replace(settings, redis_url=private_redis.url, spool=True))
    try:
        assert spooling.spool is not None
        transport = asgi_transport(spooling)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as citizen:
            token = await fresh_token(citizen)
            assert (await post_rating(citizen, {"token": token, "rating": "4"})).status_code == 303
        private_redis.start()
        assert await spooling.spool.replay(spooling.buffer) == 1
        (kept,) = await in_stream(spooling)
        assert kept.rating == 4
    finally:
        await spooling.close()


async def test_without_a_working_spool_the_citizen_is_told_it_was_not_saved(
    citizen: httpx.AsyncClient, spooling: Runtime, private_redis: EmbeddedRedis
) -> None:
    assert spooling.spool is not None
    spooling.spool.directory.parent.mkdir(parents=True, exist_ok=True)
    spooling.spool.directory.write_text("a file where the spool directory should be")
    token = await fresh_token(citizen)
    private_redis.stop()
    response = await post_rating(citizen, {"token": token, "rating": "4"})
    assert response.status_code == 503
    assert "NOT saved" in response.text
    assert response.headers["retry-after"] == "5"
    private_redis.start()
    assert await in_stream(spooling) == []


async def test_a_spooled_comment_is_redacted_on_disk(
    citizen: httpx.AsyncClient, spooling: Runtime, private_redis: EmbeddedRedis
) -> None:
    assert spooling.spool is not None
    token = await fresh_token(citizen)
    private_redis.stop()
    fields = {"token": token, "rating": "3", "comment": "call me: +374 93 123456"}
    assert (await post_rating(citizen, fields)).status_code == 303
    spooled = b"".join(path.read_bytes() for path in spooling.spool.directory.iterdir())
    assert b"call me: [phone]" in spooled
    assert b"123456" not in spooled


async def test_a_submission_that_hits_a_bug_is_neither_thanked_nor_spooled(
    citizen: httpx.AsyncClient, spooling: Runtime
) -> None:
    """A fault that would recur at every replay (the service's rate key holds the wrong
    type, so the submit script fails) is no outage: the generic error page, nothing
    spooled, nothing in the stream, and the form's nonce not used up."""
    assert spooling.spool is not None
    broken = keys.service_rate("demo-passport")
    await spooling.redis.hset(broken, "not", "a number")
    fields = {"token": await fresh_token(citizen), "rating": "4"}
    response = await post_rating(citizen, fields)
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "location" not in response.headers
    assert not spooling.spool.waiting()
    assert await in_stream(spooling) == []
    await spooling.redis.delete(broken)  # the fault fixed, the same form is taken
    assert (await post_rating(citizen, fields)).status_code == 303
    assert len(await in_stream(spooling)) == 1
