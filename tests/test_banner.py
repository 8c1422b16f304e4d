"""The banner `collector serve` prints (into a terminal or a log): nothing in it stays
useful for long."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import httpx

from collector.auth import LINK_AUDIENCE
from collector.runner import print_banner
from collector.runtime import Runtime


def banner(runtime: Runtime) -> dict[str, str]:
    out = io.StringIO()
    print_banner(runtime.settings, runtime, out)
    lines = [line.split(": ", 1) for line in out.getvalue().splitlines() if ": " in line]
    return dict(lines)


async def test_the_banner_token_lasts_a_working_day_and_the_link_works_once(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    lines = banner(runtime)
    token = lines["Analyst token (tenant demo, 8 hours)"]
    claims = runtime.analyst_tokens.verify(token)
    assert (claims.tenant, claims.role, claims.exp - claims.iat) == ("demo", "analyst", 8 * 3600)
    summary = await client.get(
        "/api/v1/services/demo-passport/summary", headers={"authorization": f"Bearer {token}"}
    )
    assert summary.status_code == 200
    link = urlsplit(lines["Dashboard sign-in link (works once, within 15 minutes)"])
    link_token = parse_qs(link.query)["token"][0]
    link_claims = runtime.analyst_tokens.verify(link_token, LINK_AUDIENCE)
    assert link_claims.exp - link_claims.iat == 15 * 60
    first = await client.post(link.path, data={"token": link_token})
    assert (first.status_code, first.headers["location"]) == (303, "/dashboard")
    client.cookies.clear()
    again = await client.post(link.path, data={"token": link_token})
    assert again.status_code == 401
