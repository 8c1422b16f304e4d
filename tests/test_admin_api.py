"""The admin API: tenants, services and signing keys, scoped by tenant and role."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest

from collector.errors import Unauthorized
from collector.runtime import Runtime
from tests.portal_tokens import ED25519_PRIVATE, claims, public_pem, sign

ADMIN = "/api/v1/admin"


def bearer(runtime: Runtime, role: str = "admin", tenant: str = "demo") -> dict[str, str]:
    return {"authorization": f"Bearer {runtime.analyst_tokens.issue(tenant, role=role)}"}  # type: ignore[arg-type]


async def test_admin_creates_and_replaces_a_service(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    body = {
        "name": "Building permits",
        "default_language": "hy",
        "config": {
            "questions": ["resolved"],
            "token_policy": "required",
            "retention_days": 365,
            "allowed_origins": ["https://e-gov.example.am"],
        },
    }
    created = await client.put(f"{ADMIN}/services/building", json=body, headers=bearer(runtime))
    assert created.status_code == 201, created.text
    assert created.json()["tenant"] == "demo"
    assert created.json()["config"]["token_policy"] == "required"
    # Applied at once: the widget now asks for the portal's token.
    assert (await client.get("/w/building")).status_code == 403
    body["name"] = "Permits for buildings"
    replaced = await client.put(f"{ADMIN}/services/building", json=body, headers=bearer(runtime))
    assert replaced.status_code == 200
    shown = await client.get(f"{ADMIN}/services/building", headers=bearer(runtime))
    assert shown.json()["name"] == "Permits for buildings"
    assert shown.json()["config"]["retention_days"] == 365
    listed = await client.get(f"{ADMIN}/services", headers=bearer(runtime))
    assert sorted(s["slug"] for s in listed.json()) == ["building", "demo-passport"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "X", "config": {"token_policy": "sometimes"}}, "token_policy"),
        ({"name": "X", "config": {"retention_days": 0}}, "retention_days"),
        ({"name": "X", "config": {"theme": {"accent": "#ffff00"}}}, "contrast"),
        ({"name": "X", "surprise": 1}, "surprise"),
    ],
)
async def test_invalid_services_are_400_naming_the_problem(
    runtime: Runtime, client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.put(f"{ADMIN}/services/x", json=body, headers=bearer(runtime))
    assert response.status_code == 400
    assert field in response.json()["detail"]
    assert runtime.services.get("x") is None


async def test_tenants_are_isolated(city: Runtime, client: httpx.AsyncClient) -> None:
    demo_admin = bearer(city)
    assert (await client.get(f"{ADMIN}/services/permits", headers=demo_admin)).status_code == 404
    listed = await client.get(f"{ADMIN}/services", headers=demo_admin)
    assert [s["slug"] for s in listed.json()] == ["demo-passport"]
    # A slug is unique: another tenant's cannot be taken over.
    taken = await client.put(f"{ADMIN}/services/permits", json={"name": "Mine"}, headers=demo_admin)
    assert taken.status_code == 409
    assert city.services.get("permits").name == "Permits"  # type: ignore[union-attr]
    tenants = await client.get(f"{ADMIN}/tenants", headers=demo_admin)
    assert [t["id"] for t in tenants.json()] == ["demo"]
    keys = await client.post(f"{ADMIN}/keys", json={"tenant": "city-hall"}, headers=demo_admin)
    assert keys.status_code == 404


async def test_roles(runtime: Runtime, client: httpx.AsyncClient) -> None:
    analyst = bearer(runtime, "analyst")
    assert (await client.get(f"{ADMIN}/services", headers=analyst)).status_code == 403
    assert (await client.get(f"{ADMIN}/keys")).status_code == 401
    admin = bearer(runtime)
    rename = await client.put(f"{ADMIN}/tenants/demo", json={"name": "Mine"}, headers=admin)
    assert rename.status_code == 403
    platform = bearer(runtime, "platform", "*")
    created = await client.put(
        f"{ADMIN}/tenants/tax", json={"name": "Tax office"}, headers=platform
    )
    assert created.status_code == 200
    tenants = await client.get(f"{ADMIN}/tenants", headers=platform)
    assert [t["id"] for t in tenants.json()] == ["demo", "tax"]
    no_tenant = await client.put(f"{ADMIN}/services/x", json={"name": "X"}, headers=platform)
    assert no_tenant.status_code == 400
    for_tax = {"name": "Tax returns", "tenant": "tax"}
    created = await client.put(f"{ADMIN}/services/returns", json=for_tax, headers=platform)
    assert (created.status_code, created.json()["tenant"]) == (201, "tax")


async def test_platform_tokens_must_say_star_and_only_they(runtime: Runtime) -> None:
    with pytest.raises(Unauthorized):
        runtime.analyst_tokens.verify(runtime.analyst_tokens.issue("demo", role="platform"))
    with pytest.raises(Unauthorized):
        runtime.analyst_tokens.verify(runtime.analyst_tokens.issue("*", role="admin"))


async def test_keys_are_added_shown_without_secrets_and_revoked(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    admin = bearer(runtime)
    created = await client.post(f"{ADMIN}/keys", json={}, headers=admin)
    assert created.status_code == 201, created.text
    hs = created.json()
    assert hs["algorithm"] == "HS256"
    assert len(hs["secret"]) >= 43
    eddsa = {"algorithm": "EdDSA", "public_key": public_pem(ED25519_PRIVATE), "kid": "portal-ed"}
    assert (await client.post(f"{ADMIN}/keys", json=eddsa, headers=admin)).status_code == 201
    assert (await client.post(f"{ADMIN}/keys", json=eddsa, headers=admin)).status_code == 409
    listed = (await client.get(f"{ADMIN}/keys", headers=admin)).json()
    assert [key["kid"] for key in listed] == [hs["kid"], "portal-ed"]
    assert all("secret" not in key for key in listed)
    # The new HS256 key signs tokens the widget accepts, at once.
    token = sign_with(hs["secret"], hs["kid"])
    assert (await client.get("/w/demo-passport", params={"t": token})).status_code == 200
    revoked = await client.post(f"{ADMIN}/keys/{hs['kid']}/revoke", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert (await client.get("/w/demo-passport", params={"t": token})).status_code == 403
    missing = await client.post(f"{ADMIN}/keys/nope/revoke", headers=admin)
    assert missing.status_code == 404


def sign_with(secret: str, kid: str) -> str:
    return jwt.encode(claims(), secret, algorithm="HS256", headers={"kid": kid})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"algorithm": "EdDSA"}, "public key"),
        ({"algorithm": "RS256", "public_key": public_pem(ED25519_PRIVATE)}, "RSA"),
        ({"algorithm": "EdDSA", "public_key": "not a pem"}, "PEM"),
        ({"algorithm": "HS256", "public_key": public_pem(ED25519_PRIVATE)}, "generated"),
        ({"algorithm": "none"}, "algorithm"),
        ({"kid": "has space"}, "kid"),
    ],
)
async def test_bad_keys_are_400(
    runtime: Runtime, client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post(f"{ADMIN}/keys", json=body, headers=bearer(runtime))
    assert response.status_code == 400
    assert field in response.json()["detail"]


async def test_rejection_counters_per_tenant(city: Runtime, client: httpx.AsyncClient) -> None:
    await client.get("/w/demo-passport", params={"t": "junk"})
    await client.get("/w/permits", params={"t": sign(claims(svc="permits"))})
    await client.get("/w/nowhere")
    report = await client.get(f"{ADMIN}/rejections", headers=bearer(city))
    assert report.json() == {"days": 7, "services": {"demo-passport": {"token_malformed": 1}}}
    platform = await client.get(
        f"{ADMIN}/rejections", params={"days": 1}, headers=bearer(city, "platform", "*")
    )
    assert platform.json()["services"] == {
        "demo-passport": {"token_malformed": 1},
        "permits": {"token_unknown_key": 1},
        "-": {"not_found": 1},
    }
    too_far = await client.get(f"{ADMIN}/rejections", params={"days": 99}, headers=bearer(city))
    assert too_far.status_code == 400


async def test_the_admin_api_is_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert {"/api/v1/admin/keys", "/api/v1/admin/services/{slug}"} <= paths.keys()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("services/x", {"name": "A\u0000B"}, "name"),
        ("services/x", {"name": " \u202e "}, "name"),
        ("services/x", {"name": "X", "config": {"names": {"ru": "\x1b[31m"}}}, "config.names.ru"),
        (
            "services/x",
            {
                "name": "X",
                "config": {
                    "questions": ["resolved"],
                    "question_texts": {"en": {"resolved": "Q\u0085"}},
                },
            },
            "config.question_texts.en.resolved",
        ),
        ("services/x", {"name": "X", "config": {"agency": "Tax\u2028office"}}, "config.agency"),
        ("services/x", {"name": "X", "config": {"names": {"en": "   "}}}, "config.names.en"),
        ("tenants/tax", {"name": "Tax\u0000office"}, "name"),
        ("tenants/tax", {"name": "Tax", "time_zone": "Asia/Yerevan\u0000"}, "time_zone"),
    ],
)
async def test_texts_with_control_characters_are_422_naming_the_field(
    runtime: Runtime, client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    platform = bearer(runtime, "platform", "*")
    body = body | ({"tenant": "demo"} if path.startswith("services") else {})
    response = await client.put(f"{ADMIN}/{path}", json=body, headers=platform)
    assert (response.status_code, response.json()["field"]) == (422, field), response.text
    assert response.json()["detail"].startswith(f"{field}: ")
    assert runtime.services.get("x") is None
    assert "tax" not in runtime.tenants


async def test_texts_are_stored_normalised(runtime: Runtime, client: httpx.AsyncClient) -> None:
    body = {
        "name": "  Cafe\u0301 permits\n",
        "config": {
            "names": {"ru": " Разрешения "},
            "agency": " Mayor's office ",
            "allowed_origins": ["https://e-gov.example.am\n"],
        },
    }
    created = await client.put(f"{ADMIN}/services/cafe", json=body, headers=bearer(runtime))
    assert created.status_code == 201, created.text
    stored = await runtime.storage.list_services()
    cafe = next(service for service in stored if service.slug == "cafe")
    assert (cafe.name, cafe.config.names, cafe.config.agency) == (
        "Caf\u00e9 permits",
        {"ru": "Разрешения"},
        "Mayor's office",
    )
    assert cafe.config.allowed_origins == ("https://e-gov.example.am",)
    framed = await client.get("/w/cafe")
    assert framed.headers["content-security-policy"].endswith(
        "frame-ancestors https://e-gov.example.am"
    )
