"""Hostile and automated submissions: each gets a clear answer, is counted by reason,
and stores nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from collector import keys
from collector.app import create_app
from collector.rejections import UNKNOWN_SERVICE
from collector.runtime import Runtime
from collector.settings import Settings
from tests.helpers import FORM_TYPE, asgi_transport, form_token, fresh_token, post_rating

SERVICE = "demo-passport"


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[Runtime]:
    """A collector with the abuse limits on: 2 s to fill a form, 2 ratings a minute per
    client, 60 a minute per service (in bursts of up to 10)."""
    opened = await Runtime.open(
        replace(
            settings,
            minimum_fill_seconds=2,
            rate_limit_per_minute=2,
            service_rate_limit_per_minute=60,
        )
    )
    yield opened
    await opened.close()


@pytest.fixture
async def citizen(guarded: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=asgi_transport(guarded), base_url="http://collector.test"
    ) as http:
        yield http


def filled_in(runtime: Runtime, seconds_ago: float = 5) -> str:
    """A form token as if the form had been shown `seconds_ago`."""
    return runtime.signer.issue(SERVICE, now=int(time.time() - seconds_ago))


def from_address(address: str) -> dict[str, str]:
    return {"x-forwarded-for": address}  # the test client is a trusted local proxy


async def stored(runtime: Runtime) -> int:
    return int(await runtime.redis.xlen(keys.STREAM))


async def counted(runtime: Runtime, service: str = SERVICE) -> dict[str, int]:
    return (await runtime.rejections.read([service], 1)).get(service, {})


async def test_a_form_sent_back_too_soon_is_shown_again(
    citizen: httpx.AsyncClient, guarded: Runtime
) -> None:
    token = await fresh_token(citizen)
    response = await post_rating(citizen, {"token": token, "rating": "5", "comment": "fast"})
    assert response.status_code == 422
    assert "That was very quick" in response.text
    # The same token, not used up: the person presses Send again and it goes through.
    assert form_token(response.text) == token
    assert ">fast</textarea>" in response.text
    assert await stored(guarded) == 0
    assert await counted(guarded) == {"too_fast": 1}
    later = await post_rating(citizen, {"token": filled_in(guarded), "rating": "5"})
    assert later.status_code == 303


async def test_one_client_is_limited_with_a_time_to_come_back(
    citizen: httpx.AsyncClient, guarded: Runtime
) -> None:
    statuses = [
        (await post_rating(citizen, {"token": filled_in(guarded), "rating": "4"})).status_code
        for _ in range(2)
    ]
    assert statuses == [303, 303]
    refused = await post_rating(citizen, {"token": filled_in(guarded), "rating": "4"})
    assert refused.status_code == 429
    assert "Too many ratings came from your network" in refused.text
    assert 29 <= int(refused.headers["retry-after"]) <= 30  # 2 a minute: one per 30 s
    # Another address is not affected.
    other = await post_rating(
        citizen, {"token": filled_in(guarded), "rating": "4"}, headers=from_address("10.1.1.1")
    )
    assert other.status_code == 303
    assert await stored(guarded) == 3
    assert await counted(guarded) == {"rate_limited": 1}


async def test_a_flood_from_many_addresses_meets_the_service_limit(
    citizen: httpx.AsyncClient, guarded: Runtime
) -> None:
    """60 a minute in bursts of 10: the eleventh rating at once, from anyone, waits 1 s."""
    statuses = []
    for n in range(11):
        response = await post_rating(
            citizen,
            {"token": filled_in(guarded), "rating": "1"},
            headers=from_address(f"10.0.0.{n + 1}"),
        )
        statuses.append(response.status_code)
    assert statuses == [303] * 10 + [429]
    assert "receiving more ratings than it can take" in response.text
    assert "NOT saved" in response.text
    assert response.headers["retry-after"] == "1"
    assert await stored(guarded) == 10
    assert await counted(guarded) == {"rate_limited_service": 1}


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (b"rating=4", {"content-type": "application/json"}, 415, "unsupported_media_type"),
        (b"comment=" + b"a" * 17_000, FORM_TYPE, 413, "payload_too_large"),
        (b"token=1.2.3&rating=4&comment=%ff%fe", FORM_TYPE, 400, "bad_request"),
        (b"&".join([b"a"] * 5000), FORM_TYPE, 400, "bad_request"),  # 5000 fields in 10 KB
        (b"token=forged&rating=4", FORM_TYPE, 403, "form_token_malformed"),
    ],
    ids=["json", "over-16-kb", "malformed-utf8", "5000-fields", "forged-token"],
)
async def test_unreadable_posts_are_counted_by_reason(
    citizen: httpx.AsyncClient,
    guarded: Runtime,
    body: bytes,
    headers: dict[str, str],
    status: int,
    reason: str,
) -> None:
    response = await citizen.post(f"/w/{SERVICE}", content=body, headers=headers)
    assert response.status_code == status
    assert "<h1>" in response.text
    assert await stored(guarded) == 0
    assert await counted(guarded) == {reason: 1}


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"rating": "4", "comment": "a\x00b"}, 422, "invalid_form"),
        ({"rating": "4", "website": "http://spam.example"}, 422, "honeypot"),
        ({"rating": "9"}, 422, "invalid_form"),
    ],
    ids=["nul-byte", "honeypot", "out-of-range"],
)
async def test_refused_forms_are_counted_by_reason(
    citizen: httpx.AsyncClient,
    guarded: Runtime,
    fields: dict[str, str],
    status: int,
    reason: str,
) -> None:
    response = await post_rating(citizen, {"token": filled_in(guarded), **fields})
    assert response.status_code == status
    assert await stored(guarded) == 0
    assert await counted(guarded) == {reason: 1}


async def test_a_replayed_form_is_thanked_but_stored_once(
    citizen: httpx.AsyncClient, guarded: Runtime
) -> None:
    token = filled_in(guarded)
    first = await post_rating(citizen, {"token": token, "rating": "3"})
    again = await post_rating(citizen, {"token": token, "rating": "3"})
    assert (first.status_code, again.status_code) == (303, 303)
    assert await stored(guarded) == 1
    assert await counted(guarded) == {"duplicate": 1}


async def test_a_body_that_never_finishes_is_cut_off(guarded: Runtime) -> None:
    app = create_app(replace(guarded, settings=replace(guarded.settings, body_timeout_seconds=0.2)))
    first_chunk = {"type": "http.request", "body": b"rating=4&tok", "more_body": True}
    delivered = [first_chunk]
    sent: list[dict[str, object]] = []

    async def receive() -> object:
        if delivered:
            return delivered.pop()
        await asyncio.Event().wait()  # a client that keeps the connection and sends nothing
        raise AssertionError("unreachable")

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/w/{SERVICE}",
        "raw_path": f"/w/{SERVICE}".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", FORM_TYPE["content-type"].encode())],
        "client": ("127.0.0.1", 123),
        "server": ("collector.test", 80),
    }
    await asyncio.wait_for(app(scope, receive, send), 5)  # type: ignore[arg-type]
    assert sent[0]["status"] == 408
    assert await stored(guarded) == 0
    assert await counted(guarded) == {"slow_body": 1}


@pytest.mark.parametrize(
    "headers",
    [
        {"x-padding": "a" * 20_000},
        {f"x-header-{n}": "1" for n in range(150)},
    ],
    ids=["one-20-kb-header", "150-headers"],
)
async def test_absurd_headers_get_431_and_store_nothing(
    citizen: httpx.AsyncClient, guarded: Runtime, headers: dict[str, str]
) -> None:
    for path in (f"/w/{SERVICE}", "/api/v1/summary", "/health"):
        response = await citizen.post(path, content=b"rating=4", headers={**FORM_TYPE, **headers})
        assert response.status_code == 431
        assert response.text.startswith("Request header fields too large:")
        assert response.headers["x-content-type-options"] == "nosniff"
    assert await stored(guarded) == 0
    assert await counted(guarded, UNKNOWN_SERVICE) == {"headers_too_large": 3}
