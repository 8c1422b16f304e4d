"""The dashboard's sign-in: pasted tokens, one-time links, sessions, sign-out."""

from __future__ import annotations

import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from collector import cli
from collector.auth import LINK_AUDIENCE, AnalystTokens
from collector.dashboard.session import sign_in_link
from collector.runtime import Runtime
from tests.conftest import TEST_SECRET
from tests.dashboard_pages import (
    Tables,
    cookie_header,
    sign_in,
    signed_in,
)


@pytest.mark.parametrize(
    ("path", "next_page"),
    [
        ("/dashboard", "%2Fdashboard"),
        ("/dashboard/services/demo-passport?from=2026-01-01", "%2Fdashboard%2Fservices%2F"),
    ],
)
async def test_signed_out_visitors_are_sent_to_sign_in(
    client: httpx.AsyncClient, path: str, next_page: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/dashboard/sign-in?next={next_page}")
    form = await client.get(response.headers["location"])
    assert form.status_code == 200
    assert 'type="password" id="token" name="token"' in form.text


async def test_a_pasted_token_opens_a_session_of_a_working_day(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    pasted = runtime.analyst_tokens.issue("demo", role="admin", lifetime_seconds=60)
    response = await client.post(
        "/dashboard/sign-in", data={"token": pasted, "next": "/dashboard/services/demo-passport"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/services/demo-passport"
    header = cookie_header(response)
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "secure" not in attributes  # the public URL is http here
    assert "Path=/dashboard" in header
    assert "samesite=strict" in header.lower()
    session = client.cookies["dashboard_session"]
    assert session != pasted
    claims = runtime.analyst_tokens.verify(session)
    assert (claims.tenant, claims.role) == ("demo", "admin")
    assert abs(claims.exp - time.time() - 8 * 3600) < 60
    page = await client.get("/dashboard")
    assert page.status_code == 200
    assert "Tenant demo, admin" in page.text


async def test_the_cookie_is_secure_behind_https(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    runtime.settings = replace(runtime.settings, public_url="https://feedback.example.gov")
    response = await sign_in(client, runtime.analyst_tokens.issue("demo"))
    assert "; secure" in cookie_header(response).lower()
    signed_out = await client.post("/dashboard/sign-out")
    assert "; secure" in cookie_header(signed_out).lower()


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("", "paste a token to sign in"),
        ("not-a-token", "invalid token"),
        (AnalystTokens("another-secret-that-is-long-enough-0123456789").issue("demo"), "invalid"),
        ("x" * 5000, "far too long"),
    ],
    ids=["empty", "garbage", "other-secret", "huge"],
)
async def test_a_bad_token_shows_the_sign_in_page_again(
    client: httpx.AsyncClient, token: str, problem: str
) -> None:
    response = await sign_in(client, token)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "That token was not accepted" in response.text
    assert problem in response.text
    assert "set-cookie" not in response.headers
    assert (await client.get("/dashboard")).status_code == 303


async def test_an_expired_token_is_refused(client: httpx.AsyncClient, runtime: Runtime) -> None:
    expired = runtime.analyst_tokens.issue("demo", lifetime_seconds=60, now=time.time() - 3600)
    response = await sign_in(client, expired)
    assert response.status_code == 401
    assert "expired" in response.text


async def test_the_next_page_stays_on_the_dashboard(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = runtime.analyst_tokens.issue("demo")
    for elsewhere in ("https://evil.example/", "//evil.example/dashboard", "/api/v1/x"):
        response = await client.post("/dashboard/sign-in", data={"token": token, "next": elsewhere})
        assert response.headers["location"] == "/dashboard"


async def test_the_link_from_the_cli_signs_in_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLLECTOR_SECRET", TEST_SECRET)
    monkeypatch.setenv("COLLECTOR_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("COLLECTOR_PUBLIC_URL", "https://feedback.example.gov/")
    assert cli.main(["dashboard-link", "--tenant", "demo", "--minutes", "15"]) == 0
    link = capsys.readouterr().out.strip()
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "feedback.example.gov",
        "/dashboard/sign-in/link",
    )
    token = parse_qs(parts.query)["token"][0]
    # Opening the link (or a chat's preview of it) only shows a button.
    page = await client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200
    assert "set-cookie" not in page.headers
    assert 'action="/dashboard/sign-in/link"' in page.text
    response = await client.post(parts.path, data={"token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    claims = runtime.analyst_tokens.verify(client.cookies["dashboard_session"])
    assert (claims.tenant, claims.role) == ("demo", "analyst")
    overview = await client.get("/dashboard")
    assert overview.status_code == 200
    assert Tables(overview.text).headings == ["Demo agency"]
    client.cookies.clear()
    # Used: refused; and a signature written another way (a "=" added) is no token.
    for used, reason in ((token, "used already"), (token + "=", "not a compact JWT")):
        again = await client.post(parts.path, data={"token": used})
        assert again.status_code == 401
        assert reason in again.text
        assert "set-cookie" not in again.headers


async def test_a_link_token_is_no_api_token_nor_a_pasted_one(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    link = sign_in_link("http://t", runtime.analyst_tokens, "demo", "analyst", 15)
    token = parse_qs(urlsplit(link).query)["token"][0]
    api = await client.get(
        "/api/v1/services/demo-passport/summary", headers={"authorization": f"Bearer {token}"}
    )
    assert api.status_code == 401
    pasted = await sign_in(client, token)
    assert pasted.status_code == 401
    assert "set-cookie" not in pasted.headers


async def test_an_expired_link_is_refused(client: httpx.AsyncClient, runtime: Runtime) -> None:
    stale = runtime.analyst_tokens.issue(
        "demo",
        lifetime_seconds=900,
        now=time.time() - 901,
        audience=LINK_AUDIENCE,
        token_id="stale",
    )
    response = await client.post("/dashboard/sign-in/link", data={"token": stale})
    assert response.status_code == 401
    assert "This sign-in link does not work" in response.text
    assert "expired" in response.text
    assert "set-cookie" not in response.headers


async def test_a_link_cannot_be_used_from_another_site(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    link = sign_in_link("http://t", runtime.analyst_tokens, "demo", "analyst", 15)
    token = parse_qs(urlsplit(link).query)["token"][0]
    for headers in ({"sec-fetch-site": "cross-site"}, {"origin": "https://evil.example"}):
        response = await client.post(
            "/dashboard/sign-in/link", data={"token": token}, headers=headers
        )
        assert response.status_code == 403
        assert "set-cookie" not in response.headers


async def test_sign_out_clears_the_cookie(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await signed_in(client, runtime)
    response = await client.post("/dashboard/sign-out")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/sign-in?out"
    assert "Max-Age=0" in cookie_header(response)
    assert "dashboard_session" not in client.cookies
    assert (await client.get("/dashboard")).status_code == 303
    assert "You have signed out." in (await client.get("/dashboard/sign-in?out")).text


async def test_a_copied_cookie_dies_with_sign_out(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await signed_in(client, runtime)
    copied = client.cookies["dashboard_session"]
    assert (await client.post("/dashboard/sign-out")).status_code == 303
    client.cookies.set("dashboard_session", copied, path="/dashboard")
    response = await client.get("/dashboard")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/dashboard/sign-in")


async def test_forms_posted_from_another_site_are_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = runtime.analyst_tokens.issue("demo")
    response = await client.post(
        "/dashboard/sign-in", data={"token": token}, headers={"sec-fetch-site": "cross-site"}
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
