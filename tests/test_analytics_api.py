"""Time series, breakdowns, league tables and tenant time zones through the API, and
tenant isolation in every analytics endpoint."""

from __future__ import annotations

import httpx
import pytest

from collector.runtime import Runtime
from collector.services import Service, ServiceConfig
from tests.clock import StoppedClock
from tests.helpers import DAY, DAY_ONE, bearer, stored_rating

HOUR = 3_600_000


async def add_service(runtime: Runtime, slug: str, tenant: str = "demo", agency: str = "") -> None:
    await runtime.storage.save_tenant(tenant, f"{tenant.title()} agency")
    await runtime.storage.save_service(
        Service(slug=slug, tenant_id=tenant, name=slug.title(), config=ServiceConfig(agency=agency))
    )
    await runtime.reload_services()


async def rate(runtime: Runtime, service: str, stars: list[int], start: int = 0) -> None:
    await runtime.storage.store(
        [
            stored_rating(start + n, value, DAY_ONE + n * HOUR, service=service)
            for n, value in enumerate(stars)
        ]
    )


async def test_a_daily_series_lists_every_day_of_the_range(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await runtime.storage.store(
        [
            stored_rating(1, 5, DAY_ONE, service="demo-passport"),
            stored_rating(2, 3, DAY_ONE + 2 * DAY, service="demo-passport"),
        ]
    )
    response = await client.get(
        "/api/v1/services/demo-passport/timeseries?from=2026-01-01&to=2026-01-03",
        headers=bearer(runtime.analyst_tokens.issue("demo")),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["interval"], body["time_zone"]) == ("day", "UTC")
    assert [
        (p["period_start"], p["figures"]["count"], p["figures"]["mean"]) for p in body["points"]
    ] == [
        ("2026-01-01", 1, 5.0),
        ("2026-01-02", 0, None),
        ("2026-01-03", 1, 3.0),
    ]


async def test_weeks_and_months_start_on_monday_and_the_first(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await rate(runtime, "demo-passport", [4, 2])
    headers = bearer(runtime.analyst_tokens.issue("demo"))
    weeks = await client.get(
        "/api/v1/services/demo-passport/timeseries?interval=week&from=2025-12-20&to=2026-01-14",
        headers=headers,
    )
    assert [(p["period_start"], p["figures"]["count"]) for p in weeks.json()["points"]] == [
        ("2025-12-15", 0),
        ("2025-12-22", 0),
        ("2025-12-29", 2),
        ("2026-01-05", 0),
        ("2026-01-12", 0),
    ]
    months = await client.get(
        "/api/v1/services/demo-passport/timeseries?interval=month&from=2025-11-15&to=2026-02-01",
        headers=headers,
    )
    assert [p["period_start"] for p in months.json()["points"]] == [
        "2025-11-01",
        "2025-12-01",
        "2026-01-01",
        "2026-02-01",
    ]


async def test_without_a_range_the_series_ends_today(
    client: httpx.AsyncClient, runtime: Runtime, clock: StoppedClock
) -> None:
    response = await client.get(
        "/api/v1/services/demo-passport/timeseries",
        headers=bearer(runtime.analyst_tokens.issue("demo")),
    )
    points = response.json()["points"]
    assert len(points) == 30
    assert points[-1]["period_start"] == "2026-06-15"  # the clock's day
    assert points[0]["period_start"] == "2026-05-17"


@pytest.mark.parametrize(
    ("query", "field", "detail"),
    [
        ("interval=hour", None, "interval: Invalid enum value 'hour'"),
        ("from=2020-01-01&to=2026-01-01", "interval", "2193 days: at most 731 points"),
        ("from=2026-02-01&to=2026-01-01", "from", "'from' is after 'to'"),
        ("from=yesterday", "from", "'from' must be a date"),
        ("to=0001-01-01", "to", "'to' must be between 1970-01-01 and 2999-12-31"),
        ("to=9999-12-31", "to", "'to' must be between 1970-01-01 and 2999-12-31"),
        # Refused from the count alone: 375,836 days are never listed.
        ("from=1970-01-01&to=2999-01-01", "interval", "375836 days: at most 731 points"),
        ("interval=month&from=1970-01-01&to=2999-12-31", "interval", "12360 months"),
    ],
)
async def test_bad_series_requests_say_what_is_wrong(
    client: httpx.AsyncClient, runtime: Runtime, query: str, field: str | None, detail: str
) -> None:
    response = await client.get(
        f"/api/v1/services/demo-passport/timeseries?{query}",
        headers=bearer(runtime.analyst_tokens.issue("demo")),
    )
    assert response.status_code == 400
    body = response.json()
    assert body.get("field") == field
    assert detail in body["detail"]


async def test_breakdown_by_device_and_an_unknown_dimension(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await runtime.storage.store(
        [
            stored_rating(1, 5, service="demo-passport"),
            stored_rating(2, 1, service="demo-passport", device_class="desktop"),
            stored_rating(3, 4, service="demo-passport"),
        ]
    )
    headers = bearer(runtime.analyst_tokens.issue("demo"))
    response = await client.get("/api/v1/services/demo-passport/breakdown/device", headers=headers)
    assert response.status_code == 200
    entries = response.json()["entries"]
    assert [(e["value"], e["figures"]["count"], e["figures"]["mean"]) for e in entries] == [
        ("mobile", 2, 4.5),
        ("desktop", 1, 1.0),
    ]
    bad = await client.get("/api/v1/services/demo-passport/breakdown/ip", headers=headers)
    assert bad.status_code == 400
    assert bad.json()["field"] == "dimension"
    assert "device, os, browser, language, channel, office, operator" in bad.json()["detail"]


async def seed_league(runtime: Runtime) -> None:
    await add_service(runtime, "big-good", agency="Passports")
    await add_service(runtime, "small-perfect", agency="Passports")
    await add_service(runtime, "mediocre", agency="Permits")
    await add_service(runtime, "tiny")
    await add_service(runtime, "foreign", tenant="other")
    await rate(runtime, "big-good", [5] * 80 + [4] * 10 + [1] * 10, start=0)
    await rate(runtime, "small-perfect", [5] * 12, start=1000)
    await rate(runtime, "mediocre", [3] * 30 + [4] * 20, start=2000)
    await rate(runtime, "tiny", [5, 5], start=3000)
    await rate(runtime, "foreign", [5] * 50, start=4000)


async def test_the_league_table_is_honest_for_small_samples(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await seed_league(runtime)
    response = await client.get(
        "/api/v1/rankings/services?from=2026-01-01&to=2026-01-31",
        headers=bearer(runtime.analyst_tokens.issue("demo")),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["score"], body["minimum_count"]) == ("wilson", 10)
    rows = [(e["rank"], e["key"], e["figures"]["count"], e["score"]) for e in body["entries"]]
    # 12 of 12 happy ranks below 90 of 100: the evidence is thinner. 2 ratings: unranked.
    # The demo service has no ratings: listed last. Another tenant's: never.
    assert rows == [
        (1, "big-good", 100, 0.8256),
        (2, "small-perfect", 12, 0.7575),
        (3, "mediocre", 50, 0.2761),
        (None, "tiny", 2, 0.3424),
        (None, "demo-passport", 0, None),
    ]
    bayes = await client.get(
        "/api/v1/rankings/services?from=2026-01-01&to=2026-01-31&score=bayesian&minimum_count=1",
        headers=bearer(runtime.analyst_tokens.issue("demo")),
    )
    assert [(e["rank"], e["key"]) for e in bayes.json()["entries"]] == [
        (1, "small-perfect"),
        (2, "big-good"),
        (3, "tiny"),
        (4, "mediocre"),
        (None, "demo-passport"),
    ]


async def test_agencies_group_their_services(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await seed_league(runtime)
    response = await client.get(
        "/api/v1/rankings/agencies?from=2026-01-01&to=2026-01-31",
        headers=bearer(runtime.analyst_tokens.issue("demo")),
    )
    rows = [
        (e["rank"], e["key"], e["services"], e["figures"]["count"])
        for e in response.json()["entries"]
    ]
    # Services without an agency belong to their tenant, by the tenant's name.
    assert rows == [(1, "Passports", 2, 112), (2, "Permits", 1, 50), (None, "Demo agency", 2, 2)]
    platform = await client.get(
        "/api/v1/rankings/agencies?from=2026-01-01&to=2026-01-31",
        headers=bearer(runtime.analyst_tokens.issue("*", role="platform")),
    )
    assert {e["key"] for e in platform.json()["entries"]} == {
        "Passports",
        "Permits",
        "Demo agency",
        "Other agency",
    }


async def test_a_tenants_time_zone_moves_its_days(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # 21:00 UTC on 1 January is 01:00 on 2 January in Yerevan.
    await runtime.storage.store([stored_rating(1, 5, DAY_ONE + 21 * HOUR, service="demo-passport")])
    platform = bearer(runtime.analyst_tokens.issue("*", role="platform"))
    saved = await client.put(
        "/api/v1/admin/tenants/demo",
        json={"name": "Demo agency", "time_zone": "Asia/Yerevan"},
        headers=platform,
    )
    assert saved.status_code == 200
    assert saved.json() == {"id": "demo", "name": "Demo agency", "time_zone": "Asia/Yerevan"}
    headers = bearer(runtime.analyst_tokens.issue("demo"))
    summary = await client.get(
        "/api/v1/services/demo-passport/summary?from=2026-01-02&to=2026-01-02", headers=headers
    )
    assert (summary.json()["count"], summary.json()["time_zone"]) == (1, "Asia/Yerevan")
    bad = await client.put(
        "/api/v1/admin/tenants/demo",
        json={"name": "Demo agency", "time_zone": "Mars/Olympus"},
        headers=platform,
    )
    assert bad.status_code == 400
    assert bad.json()["field"] == "time_zone"


ENDPOINTS = [
    "/api/v1/services/{service}/summary",
    "/api/v1/services/{service}/timeseries",
    "/api/v1/services/{service}/breakdown/device",
    "/api/v1/services/{service}/problems",
    "/api/v1/comments?service={service}",
    "/api/v1/exports/ratings?service={service}",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_another_tenants_service_is_not_found_anywhere(
    client: httpx.AsyncClient, runtime: Runtime, endpoint: str
) -> None:
    await add_service(runtime, "foreign", tenant="other")
    await rate(runtime, "foreign", [1, 2, 3])
    demo = bearer(runtime.analyst_tokens.issue("demo"))
    foreign = await client.get(endpoint.format(service="foreign"), headers=demo)
    missing = await client.get(endpoint.format(service="no-such-service"), headers=demo)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["detail"] == "no service 'foreign' in your tenant"
    own = bearer(runtime.analyst_tokens.issue("other"))
    assert (await client.get(endpoint.format(service="foreign"), headers=own)).status_code == 200


@pytest.mark.parametrize(
    "endpoint",
    [*ENDPOINTS, "/api/v1/rankings/services", "/api/v1/rankings/agencies"],
)
async def test_every_endpoint_needs_a_token(client: httpx.AsyncClient, endpoint: str) -> None:
    response = await client.get(endpoint.format(service="demo-passport"))
    assert response.status_code == 401
    assert response.json()["detail"] == "missing Authorization header (Bearer token)"
