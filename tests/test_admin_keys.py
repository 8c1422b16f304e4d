"""Signing keys through the admin API: a kid is unique within its tenant only, and
another tenant's kids are neither revealed nor blocked."""

from __future__ import annotations

import httpx
import jwt

from collector.runtime import Runtime
from tests.portal_tokens import claims

KEYS = "/api/v1/admin/keys"


def bearer(runtime: Runtime, tenant: str, role: str = "admin") -> dict[str, str]:
    return {"authorization": f"Bearer {runtime.analyst_tokens.issue(tenant, role=role)}"}  # type: ignore[arg-type]


def token(secret: str, tenant: str, service: str) -> str:
    payload = claims(iss=tenant, svc=service)
    return jwt.encode(payload, secret, algorithm="HS256", headers={"kid": "portal-1"})


async def add(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post(KEYS, json={"kid": "portal-1"}, headers=headers)


async def test_each_tenant_may_use_a_kid_another_tenant_uses(
    city: Runtime, client: httpx.AsyncClient
) -> None:
    demo, city_hall = bearer(city, "demo"), bearer(city, "city-hall")
    first = await add(client, demo)
    assert first.status_code == 201, first.text
    # The same kid in another tenant: neither refused nor told that it exists.
    second = await add(client, city_hall)
    assert second.status_code == 201, second.text
    again = await add(client, city_hall)
    assert again.status_code == 409
    assert again.json()["detail"] == (
        "tenant 'city-hall' has a key 'portal-1' already; choose another kid"
    )
    listed = (await client.get(KEYS, headers=city_hall)).json()
    assert [(key["tenant"], key["kid"]) for key in listed] == [("city-hall", "portal-1")]
    # Each tenant's tokens are checked with its own key of that kid.
    demo_secret, city_secret = first.json()["secret"], second.json()["secret"]
    permits = token(city_secret, "city-hall", "permits")
    assert (await client.get("/w/permits", params={"t": permits})).status_code == 200
    forged = token(demo_secret, "city-hall", "permits")
    assert (await client.get("/w/permits", params={"t": forged})).status_code == 403
    passport = token(demo_secret, "demo", "demo-passport")
    assert (await client.get("/w/demo-passport", params={"t": passport})).status_code == 200


async def test_revoking_reaches_the_tokens_tenant_only(
    city: Runtime, client: httpx.AsyncClient
) -> None:
    demo, city_hall = bearer(city, "demo"), bearer(city, "city-hall")
    city_secret = (await add(client, city_hall)).json()["secret"]
    # demo has no portal-1: as missing as a kid nobody has.
    missing = await client.post(f"{KEYS}/portal-1/revoke", headers=demo)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no key 'portal-1' in tenant 'demo'"
    assert (await add(client, demo)).status_code == 201
    assert (await client.post(f"{KEYS}/portal-1/revoke", headers=demo)).status_code == 200
    permits = token(city_secret, "city-hall", "permits")
    assert (await client.get("/w/permits", params={"t": permits})).status_code == 200


async def test_a_platform_token_names_the_keys_tenant(
    city: Runtime, client: httpx.AsyncClient
) -> None:
    assert (await add(client, bearer(city, "city-hall"))).status_code == 201
    platform = bearer(city, "*", role="platform")
    unnamed = await client.post(f"{KEYS}/portal-1/revoke", headers=platform)
    assert (unnamed.status_code, unnamed.json()["field"]) == (400, "tenant")
    named = await client.post(
        f"{KEYS}/portal-1/revoke", params={"tenant": "city-hall"}, headers=platform
    )
    assert named.status_code == 200
    assert (named.json()["tenant"], named.json()["kid"]) == ("city-hall", "portal-1")
