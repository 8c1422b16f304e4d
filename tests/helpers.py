"""Helpers shared by tests: getting a form token the way a browser would, and posting."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

import httpx
from redis.asyncio import Redis

from collector.app import create_app
from collector.runtime import Runtime

# The ASGI signature httpx's ASGITransport is typed with.
_HttpxApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]

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


async def stream_entries(client: Redis, key: str) -> StreamEntries:
    """XRANGE of a whole stream, typed as our bytes-only clients return it."""
    return cast(StreamEntries, await client.xrange(key))


def asgi_transport(
    runtime: Runtime, client: tuple[str, int] = ("127.0.0.1", 123)
) -> httpx.ASGITransport:
    """httpx's in-process transport over the collector's real app."""
    app = cast(_HttpxApp, create_app(runtime))
    return httpx.ASGITransport(app=app, client=client)
