"""API requests are authenticated before Litestar parses anything of them; an
authenticated body is bounded in size and nesting. Every answer is a 4xx, never 500."""

from __future__ import annotations

import httpx
import pytest

from collector.runtime import Runtime
from tests.helpers import bearer

BODY_ROUTES = [
    ("PUT", "/api/v1/admin/services/x"),
    ("POST", "/api/v1/admin/keys"),
    ("PUT", "/api/v1/admin/tenants/x"),
]
NESTED = b"[" * 20_000
BODIES = {
    "nested brackets": NESTED,
    "nested objects": b'{"name": ' + b'{"a": ' * 5_000,
    "invalid JSON": b'{"name": ',
    "schema-invalid": b'{"name": 5, "surprise": []}',
    "too large": b'{"name": "' + b"x" * 100_000 + b'"}',
}
JSON = {"content-type": "application/json"}


def admin(runtime: Runtime) -> dict[str, str]:
    return bearer(runtime.analyst_tokens.issue("*", role="platform"))


@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_without_a_token_nothing_is_parsed(
    client: httpx.AsyncClient, method: str, path: str, body: str
) -> None:
    for headers in ({}, {"authorization": "Bearer not-a-token"}):
        response = await client.request(method, path, content=BODIES[body], headers=headers | JSON)
        assert response.status_code == 401
        assert response.json()["detail"] in (
            "missing Authorization header (Bearer token)",
            "invalid token: not a compact JWT (three base64url parts, no padding)",
        )


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_an_analyst_token_gets_403_before_parsing(
    runtime: Runtime, client: httpx.AsyncClient, method: str, path: str
) -> None:
    analyst = bearer(runtime.analyst_tokens.issue("demo"))
    response = await client.request(method, path, content=NESTED, headers=analyst | JSON)
    assert (response.status_code, response.json()["detail"]) == (
        403,
        "this needs a token with the admin role",
    )


EXPECTED = {
    "nested brackets": (400, "deeper than 32 levels"),
    "nested objects": (400, "deeper than 32 levels"),
    "invalid JSON": (400, "JSON"),
    "schema-invalid": (400, "name"),
    "too large": (413, "Request Entity Too Large"),
}


@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_with_a_token_each_problem_is_named(
    runtime: Runtime, client: httpx.AsyncClient, method: str, path: str, body: str
) -> None:
    response = await client.request(
        method, path, content=BODIES[body], headers=admin(runtime) | JSON
    )
    status, named = EXPECTED[body]
    assert response.status_code == status, response.text
    assert named in response.json()["detail"]


async def test_query_parameters_are_not_judged_without_a_token(
    client: httpx.AsyncClient,
) -> None:
    for path in (
        "/api/v1/admin/rejections?days=99",
        "/api/v1/services/demo-passport/summary?from=yesterday",
        "/api/v1/comments?minimum_rating=nine",
    ):
        response = await client.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == 'Bearer realm="civic-feedback"'


async def test_a_dashboard_form_is_bounded_too(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/dashboard/sign-in",
        content=b"token=" + b"x" * 100_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


async def test_a_delete_is_answered_without_reading_its_body_as_its_schema_says(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    # The erase takes no body: one sent anyway is left unread (no 413, no 400),
    # and the OpenAPI document gives the operation no body errors.
    path = "/api/v1/admin/services/demo-passport/transactions/txn-1"
    token = bearer(runtime.analyst_tokens.issue("demo", role="admin"))
    for body in (BODIES["too large"], BODIES["invalid JSON"]):
        response = await client.request("DELETE", path, content=body, headers=token | JSON)
        assert response.status_code == 200, response.text
        assert response.json()["stored_ratings"] == 0
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/v1/admin/services/{slug}/transactions/{reference}"]
    assert not {"413", "422"} & set(operation["delete"]["responses"])
