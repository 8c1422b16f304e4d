"""Every response carries the four security headers: each route the Litestar app has
registered (found by introspection, so a new route is covered without editing this
file), with and without credentials, its error responses, and the widget's pages."""

from __future__ import annotations

from typing import Any, cast

import httpx
from litestar import get

from collector.app import create_litestar
from collector.runtime import Runtime
from collector.security_headers import STRICT_POLICY
from tests.helpers import FORM_TYPE, bearer, fresh_token

STRICT = STRICT_POLICY[1].decode()
# Path parameters a route may have; any other name gets "x" (a 404 or 400 is still a
# response whose headers count).
SAMPLES = {
    "service": "demo-passport",
    "slug": "demo-passport",
    "dimension": "device",
    "tenant": "demo",
    "kid": "no-such-key",
    "rest": "no/such/page",
    "path": "no-such-document.json",
}


def problems(response: httpx.Response) -> list[str]:
    """What is missing or wrong in the response's security headers."""
    headers = response.headers
    found: list[str] = []
    if headers.get("x-content-type-options") != "nosniff":
        found.append("x-content-type-options")
    if headers.get("referrer-policy") != "no-referrer":
        found.append("referrer-policy")
    if "camera=()" not in headers.get("permissions-policy", ""):
        found.append("permissions-policy")
    policies = headers.get_list("content-security-policy")
    content_type = headers.get("content-type", "")
    if len(policies) != 1 or not policies[0].startswith("default-src 'none'"):
        found.append(f"content-security-policy {policies}")
    elif content_type.startswith("text/html") and "frame-ancestors" not in policies[0]:
        found.append(f"frame-ancestors in {policies[0]}")
    elif "json" in content_type and policies[0] != STRICT:
        found.append(f"strict policy for {content_type}: {policies[0]}")
    return found


def registered_requests(runtime: Runtime) -> list[tuple[str, str]]:
    """(method, path) for every method of every route the Litestar app registers."""
    requests: list[tuple[str, str]] = []
    for route in create_litestar(runtime).routes:
        path = route.path_format.format(
            **{name: SAMPLES.get(name, "x") for name in route.path_parameters}
        )
        requests.extend((method, path) for method in sorted(route.methods))
    return requests


async def test_every_registered_route_carries_the_headers(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    admin = runtime.analyst_tokens.issue("demo", role="admin")
    session = runtime.analyst_tokens.issue("demo", role="admin", token_id="session-1")
    analyst = runtime.analyst_tokens.issue("demo", role="analyst")
    credentials = {
        "anonymous": {},
        "analyst": bearer(analyst),  # an admin route's 403
        "signed in": {**bearer(admin), "cookie": f"dashboard_session={session}"},
    }
    requests = registered_requests(runtime)
    statuses: set[int] = set()
    failures = {}
    for who, headers in credentials.items():
        for method, path in requests:
            response = await client.request(method, path, headers=headers)
            statuses.add(response.status_code)
            if found := problems(response):
                failures[f"{who} {method} {path} -> {response.status_code}"] = found
    assert failures == {}
    assert len(requests) >= 60  # the routes were found: no vacuous pass
    # Successes, redirects and errors were all among them.
    assert {200, 204, 303, 400, 401, 403, 404} <= statuses


async def test_error_responses_carry_the_headers(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    responses = {
        "no route": await client.get("/no/such/path"),
        "wrong method": await client.delete("/health"),
        "bad query": await client.get(
            "/api/v1/services/demo-passport/summary?from=yesterday",
            headers=bearer(runtime.analyst_tokens.issue("demo")),
        ),
        "bad token": await client.get("/api/v1/comments", headers=bearer("not.a.token")),
        "schema viewer": await client.get("/schema/swagger"),
    }
    assert {name: response.status_code for name, response in responses.items()} == {
        "no route": 404,
        "wrong method": 405,
        "bad query": 400,
        "bad token": 401,
        "schema viewer": 404,
    }
    failures = {name: problems(response) for name, response in responses.items()}
    assert {name: found for name, found in failures.items() if found} == {}


async def test_an_unexpected_error_carries_the_headers(runtime: Runtime) -> None:
    @get("/fails", sync_to_thread=False)
    def fails() -> None:
        raise RuntimeError("a bug")

    app = create_litestar(runtime)
    app.register(fails)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://collector.test") as http:
        response = await http.get("/fails")
    assert response.status_code == 500
    assert problems(response) == []


async def test_the_schema_is_the_document_only(client: httpx.AsyncClient) -> None:
    """No HTML viewer (they load scripts from CDNs); /schema is the JSON itself."""
    root = await client.get("/schema")
    document = await client.get("/schema/openapi.json")
    assert root.headers["content-type"] == document.headers["content-type"]
    assert root.json() == document.json()
    assert root.headers["content-security-policy"] == STRICT


async def test_the_widgets_responses_carry_the_headers(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await fresh_token(client)
    responses = {
        "form": await client.get("/w/demo-passport"),
        "head": await client.head("/w/demo-passport"),
        "rated": await client.post(
            "/w/demo-passport", data={"token": token, "rating": "4"}, headers=FORM_TYPE
        ),
        "form again": await client.post("/w/demo-passport", data={"token": token}),
        "bad body": await client.post("/w/demo-passport", content=b"\xff", headers=FORM_TYPE),
        "thanks": await client.get("/w/demo-passport/thanks"),
        "qr": await client.get("/w/demo-passport/qr.svg"),
        "unknown service": await client.get("/w/no-such-service"),
        "wrong method": await client.put("/w/demo-passport"),
    }
    assert {name: response.status_code for name, response in responses.items()} == {
        "form": 200,
        "head": 200,
        "rated": 303,
        "form again": 422,
        "bad body": 400,
        "thanks": 200,
        "qr": 200,
        "unknown service": 404,
        "wrong method": 405,
    }
    failures = {name: problems(response) for name, response in responses.items()}
    assert {name: found for name, found in failures.items() if found} == {}
    # The widget keeps its own policy: portals must still be able to frame it.
    assert "frame-ancestors 'none'" not in responses["form"].headers["content-security-policy"]
