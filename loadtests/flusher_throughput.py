"""Flusher throughput: a stream pre-filled with ratings, drained into fresh storage."""

from __future__ import annotations

import random
import time

from redis.asyncio import Redis

from collector import keys
from collector.flusher import Flusher
from collector.ids import new_rating_id
from collector.messages import EVENT_ENCODER, RatingEvent
from collector.redis_clients import flusher_client
from collector.storage import open_storage

# A realistic mix: most ratings from phones, some with a comment and answers.
_USER_AGENTS = (
    "Mozilla/5.0 (Linux; Android 13; SM-A135F) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.179 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
)
_LANGUAGES = ("en", "ru", "hy", "ky", "uz", "kk")


def _event(generator: random.Random, received_at: int) -> bytes:
    rating = generator.randint(1, 5)
    event = RatingEvent(
        id=new_rating_id(),
        service=f"service-{generator.randrange(50)}",
        rating=rating,
        comment="Очередь была долгой" if generator.random() < 0.2 else "",
        language=generator.choice(_LANGUAGES),  # type: ignore[arg-type]
        channel="web",
        received_at=received_at,
        user_agent=generator.choice(_USER_AGENTS),
        answers={"resolved": generator.choice(("yes", "partly", "no"))},
    )
    return EVENT_ENCODER.encode(event)


async def fill(redis: Redis, entries: int) -> None:
    """XADD `entries` ratings (in pipelined chunks) to an empty stream."""
    await redis.delete(keys.STREAM)
    generator = random.Random(7)  # noqa: S311 (test data, not secrets)
    # In arrival order, as the collector appends them: spread over the last day.
    start = int(time.time() * 1000) - 86_400_000
    step = 86_400_000 // max(1, entries)
    chunk = 5000
    for first in range(0, entries, chunk):
        async with redis.pipeline(transaction=False) as pipeline:
            for number in range(first, min(first + chunk, entries)):
                pipeline.xadd(keys.STREAM, {"e": _event(generator, start + number * step)})
            await pipeline.execute()


async def rows_per_second(redis_url: str, database_url: str, entries: int) -> float:
    """Fill the stream, then time one flusher storing all of it into fresh storage
    (a sqlite:/// or postgresql:// URL)."""
    redis = Redis.from_url(redis_url)
    try:
        await fill(redis, entries)
    finally:
        await redis.aclose()
    storage = open_storage(database_url)
    await storage.migrate()
    flusher = Flusher(
        flusher_client(redis_url, 100), storage, consumer="bench", block_milliseconds=100
    )
    try:
        await flusher.ensure_group()
        started = time.perf_counter()
        stored = idle_rounds = 0
        while stored < entries and idle_rounds < 50:
            processed = await flusher.run_once(block=False)
            stored += processed
            idle_rounds = 0 if processed else idle_rounds + 1
        elapsed = time.perf_counter() - started
        if await storage.count_ratings() != entries:
            raise RuntimeError("the flusher did not store every entry")
    finally:
        await flusher.close()
        await storage.close()
    return entries / elapsed
