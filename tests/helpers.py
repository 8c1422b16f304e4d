"""Helpers shared by tests: getting a form token the way a browser would, and posting."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, cast

import httpx

from collector import keys
from collector.app import create_app
from collector.ids import new_rating_id
from collector.messages import EVENT_ENCODER, RatingEvent, StoredRating
from collector.redis_clients import RedisClient
from collector.runtime import Runtime
from collector.shards import shard_of

# The ASGI signature httpx's ASGITransport is typed with.
_HttpxApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]

DAY_ONE = 1_767_225_600_000  # 2026-01-01T00:00:00Z in milliseconds
DAY = 86_400_000

_TOKEN = re.compile(r'name="token" value="([^"]+)"')
FORM_TYPE = {"content-type": "application/x-www-form-urlencoded"}


def form_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no form token"
    return match.group(1)


async def fresh_token(client: httpx.AsyncClient, service: str = "demo-passport") -> str:
    response = await client.get(f"/w/{service}")
    assert response.status_code == 200
    return form_token(response.text)


async def post_rating(
    client: httpx.AsyncClient,
    fields: dict[str, str],
    service: str = "demo-passport",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(f"/w/{service}", data=fields, headers=headers)


StreamEntries = list[tuple[bytes, dict[bytes, bytes]]]


async def stream_entries(client: RedisClient, key: str) -> StreamEntries:
    """XRANGE of a whole stream, typed as our bytes-only clients return it."""
    return cast(StreamEntries, await client.xrange(key))


def asgi_transport(
    runtime: Runtime, client: tuple[str, int] = ("127.0.0.1", 123)
) -> httpx.ASGITransport:
    """httpx's in-process transport over the collector's real app."""
    app = cast(_HttpxApp, create_app(runtime))
    return httpx.ASGITransport(app=app, client=client)


def event(stars: int = 4, comment: str = "", user_agent: str = "") -> RatingEvent:
    return RatingEvent(
        id=new_rating_id(),
        service="demo-passport",
        rating=stars,
        comment=comment,
        language="en",
        channel="web",
        received_at=int(time.time() * 1000),
        user_agent=user_agent,
    )


async def add(runtime: Runtime, *events: RatingEvent) -> None:
    for item in events:
        await runtime.redis.xadd(keys.STREAM, {"e": EVENT_ENCODER.encode(item)})


async def buffered(runtime: Runtime) -> int:
    """Entries in the streams of every shard."""
    lengths = [
        await runtime.redis.xlen(keys.stream(shard))
        for shard in range(runtime.settings.redis_shards)
    ]
    return sum(lengths)


def nonce_on_shard(text: str, shard: int, shards: int) -> str:
    """A nonce beginning with `text` whose rating (without a transaction) goes to the
    shard, so that tests of one stream's keys run unchanged over several shards."""
    suffix = 0
    while shard_of("", "", nonce := f"{text}-{suffix}", shards) != shard:
        suffix += 1
    return nonce


async def pending(runtime: Runtime) -> int:
    summary = await runtime.redis.xpending(keys.STREAM, keys.FLUSHER_GROUP)
    return int(summary["pending"])


async def dead_letters(runtime: Runtime) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in await stream_entries(runtime.redis, keys.DEAD_LETTERS)]


async def rows(runtime: Runtime) -> int:
    return await runtime.storage.count_ratings()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def run_cli(
    data_dir: Path, *arguments: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `collector` command on a data directory."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COLLECTOR_")},
        "COLLECTOR_DATA_DIR": str(data_dir),
        "COLLECTOR_PUBLIC_URL": "https://feedback.example.gov",
    }
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", *arguments],
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def stored_rating(
    number: int, stars: int = 4, received_at: int = DAY_ONE, **changes: object
) -> StoredRating:
    fields: dict[str, object] = {
        "id": f"00000000-0000-7000-8000-{number:012d}",
        "service": "svc",
        "rating": stars,
        "comment": "",
        "language": "en",
        "channel": "web",
        "received_at": received_at,
        "device_class": "mobile",
        "os_family": "Android",
        "browser_family": "Chrome Mobile",
        "is_bot": False,
    }
    fields.update(changes)
    return StoredRating(**fields)  # type: ignore[arg-type]
