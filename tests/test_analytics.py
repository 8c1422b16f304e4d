"""GET /api/v1/services/{service}/summary: figures, tenant isolation, token refusals."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import jwt
import pytest

from collector.auth import AUDIENCE, ISSUER, AnalystTokens
from collector.flusher import Flusher
from collector.runtime import Runtime
from collector.services import Service
from tests.clock import StoppedClock
from tests.helpers import bearer, fresh_token, post_rating

SUMMARY = "/api/v1/services/demo-passport/summary"


async def rate(client: httpx.AsyncClient, *stars: int) -> None:
    for value in stars:
        token = await fresh_token(client)
        response = await post_rating(client, {"token": token, "rating": str(value)})
        assert response.status_code == 303


async def test_render_submit_flush_then_the_summary_shows_it(
    client: httpx.AsyncClient, runtime: Runtime, flusher: Flusher
) -> None:
    await rate(client, 5, 4, 4, 2, 1)
    await flusher.run_once(block=False)
    token = runtime.analyst_tokens.issue("demo")
    response = await client.get(SUMMARY, headers=bearer(token))
    assert response.status_code == 200
    body = response.json()
    newest = body.pop("newest_rating_at")
    assert body == {
        "service": "demo-passport",
        "period_from": None,
        "period_to": None,
        "count": 5,
        "mean": 3.2,
        "csat": 0.6,
        "stars": {"one": 1, "two": 1, "three": 0, "four": 2, "five": 1},
        "answers": {},
        "answered": 0,
        "mean_answer_seconds": None,
        "csat_lower_bound": 0.2307,  # Wilson, 3 of 5 at 95%
        "comments": 0,
        "impressions": 0,  # views reach storage through the impression flusher
        "response_rate": None,
        "time_zone": "UTC",
    }
    assert newest == "2026-06-15T08:00:00.000Z"  # the test clock's moment


async def test_empty_service_has_no_mean(client: httpx.AsyncClient, runtime: Runtime) -> None:
    response = await client.get(SUMMARY, headers=bearer(runtime.analyst_tokens.issue("demo")))
    body = response.json()
    assert (body["count"], body["mean"], body["csat"], body["newest_rating_at"]) == (
        0,
        None,
        None,
        None,
    )


async def test_period_filter(client: httpx.AsyncClient, runtime: Runtime, flusher: Flusher) -> None:
    await rate(client, 5)
    await flusher.run_once(block=False)
    headers = bearer(runtime.analyst_tokens.issue("demo"))
    today = "2026-06-15"  # the test clock's day
    assert (await client.get(f"{SUMMARY}?from={today}&to={today}", headers=headers)).json()[
        "count"
    ] == 1
    past = await client.get(f"{SUMMARY}?from=2020-01-01&to=2020-12-31", headers=headers)
    assert past.json()["count"] == 0
    assert past.json()["period_from"] == "2020-01-01"


async def test_a_rating_at_a_local_midnight_counts_on_the_day_it_was_given(
    client: httpx.AsyncClient, runtime: Runtime, flusher: Flusher, clock: StoppedClock
) -> None:
    """Yerevan's March ends at 20:00 UTC: the series, its default end and the rating's
    day all follow the tenant's clock, not UTC's and not the machine's."""
    await runtime.storage.set_tenant_time_zone("demo", "Asia/Yerevan")
    await runtime.reload_services()
    headers = bearer(runtime.analyst_tokens.issue("demo"))
    series = "/api/v1/services/demo-passport/timeseries"
    clock.set(datetime(2026, 3, 31, 19, 59, 59, 900000, tzinfo=UTC))
    await rate(client, 2)
    clock.set(datetime(2026, 3, 31, 20, 0, 0, 100000, tzinfo=UTC))
    await rate(client, 5)
    await flusher.run_once(block=False)
    points = (await client.get(series, headers=headers)).json()["points"]
    assert points[-1]["period_start"] == "2026-04-01"
    assert [
        (p["period_start"], p["figures"]["count"], p["figures"]["mean"]) for p in points[-2:]
    ] == [
        ("2026-03-31", 1, 2.0),
        ("2026-04-01", 1, 5.0),
    ]
    months = (await client.get(f"{series}?interval=month", headers=headers)).json()["points"]
    assert [(p["period_start"], p["figures"]["count"]) for p in months[-2:]] == [
        ("2026-03-01", 1),
        ("2026-04-01", 1),
    ]


@pytest.mark.parametrize(
    ("query", "field", "detail"),
    [
        ("from=2026-13-01", "from", "'from' must be a date as YYYY-MM-DD"),
        ("to=yesterday", "to", "'to' must be a date as YYYY-MM-DD"),
        ("from=2026-02-01&to=2026-01-01", "from", "'from' is after 'to'"),
    ],
)
async def test_bad_periods_get_400_naming_the_field(
    client: httpx.AsyncClient, runtime: Runtime, query: str, field: str, detail: str
) -> None:
    headers = bearer(runtime.analyst_tokens.issue("demo"))
    response = await client.get(f"{SUMMARY}?{query}", headers=headers)
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["field"]) == ("bad_request", field)
    assert body["detail"].startswith(detail)


async def test_another_tenants_service_is_not_found(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await runtime.storage.save_tenant("other", "Other agency")
    await runtime.storage.save_service(Service(slug="other-svc", tenant_id="other", name="X"))
    runtime.services.replace(await runtime.storage.list_services())
    demo_token = runtime.analyst_tokens.issue("demo")
    foreign = await client.get("/api/v1/services/other-svc/summary", headers=bearer(demo_token))
    missing = await client.get("/api/v1/services/nothing/summary", headers=bearer(demo_token))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"] == "not_found"
    own = runtime.analyst_tokens.issue("other")
    assert (
        await client.get("/api/v1/services/other-svc/summary", headers=bearer(own))
    ).status_code == 200


def signed(claims: dict[str, object], key: bytes | str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def valid_claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "t",
        "tenant": "demo",
        "role": "analyst",
        "iat": now,
        "exp": now + 60,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "missing Authorization header"),
        ("Basic dXNlcjpwYXNz", "must be 'Bearer <token>'"),
        ("Bearer ", "must be 'Bearer <token>'"),
        ("Bearer not-a-jwt", "invalid token"),
    ],
    ids=["missing", "basic", "empty-bearer", "garbage"],
)
async def test_missing_or_malformed_authorization_is_401(
    client: httpx.AsyncClient, header: str | None, detail: str
) -> None:
    headers = {"authorization": header} if header is not None else {}
    response = await client.get(SUMMARY, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert detail in response.json()["detail"]


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": int(time.time()) - 10},
        {"exp": None},
        {"aud": "someone-else"},
        {"iss": "civic"},
        {"iss": ISSUER + "-evil"},
        {"tenant": None},
        {"role": "superuser"},
    ],
    ids=["expired", "no-exp", "wrong-aud", "iss-prefix", "iss-suffix", "no-tenant", "bad-role"],
)
async def test_bad_claims_are_401(
    client: httpx.AsyncClient, runtime: Runtime, changes: dict[str, object]
) -> None:
    key = runtime.analyst_tokens._key
    token = signed(valid_claims(**changes), key)
    response = await client.get(SUMMARY, headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


async def test_wrong_key_and_alg_none_are_401(client: httpx.AsyncClient) -> None:
    other_key = signed(valid_claims(), b"another server's key, long enough for HS256....")
    unsigned = jwt.encode(valid_claims(), "", algorithm="none")
    for token in (other_key, unsigned):
        response = await client.get(SUMMARY, headers=bearer(token))
        assert response.status_code == 401


def test_tokens_issued_by_one_secret_fail_with_another() -> None:
    token = AnalystTokens("a" * 40).issue("demo")
    assert AnalystTokens("a" * 40).verify(token).tenant == "demo"
    with pytest.raises(Exception, match="Signature verification failed"):
        AnalystTokens("b" * 40).verify(token)


async def test_unknown_api_route_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
