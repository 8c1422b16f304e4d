"""The dashboard over the real app: sign-in and sessions, exact figures on the pages,
tenant isolation, errors as pages, headers. Charts and periods are tested as functions."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from collector import cli
from collector.auth import LINK_AUDIENCE, AnalystTokens
from collector.dashboard import charts
from collector.dashboard.periods import ReportPeriod, axis_labels, choose_period
from collector.dashboard.session import sign_in_link
from collector.errors import BadRequest
from collector.flusher import Flusher
from collector.runtime import Runtime
from collector.services import Service, ServiceConfig
from tests.conftest import TEST_SECRET
from tests.helpers import DAY, DAY_ONE, fresh_token, post_rating, stored_rating

JANUARY = "from=2026-01-01&to=2026-01-31"


class Tables(HTMLParser):
    """Every table's rows as lists of cell texts, and every <h1>'s text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.headings: list[str] = []
        self._cell: list[str] | None = None
        self._in_h1 = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "h1":
            self._in_h1 = True
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_h1:
            self.headings[-1] += data


def figure(html: str, name: str) -> str:
    match = re.search(rf"<dt>{re.escape(name)}</dt><dd>([^<]*)</dd>", html)
    assert match, f"no figure {name!r}"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/dashboard/sign-in", data={"token": token, "next": "/dashboard"})


async def signed_in(
    client: httpx.AsyncClient, runtime: Runtime, tenant: str = "demo", role: str = "analyst"
) -> httpx.AsyncClient:
    token = runtime.analyst_tokens.issue(tenant, role=role)  # type: ignore[arg-type]
    assert (await sign_in(client, token)).status_code == 303
    return client


async def add_services(runtime: Runtime, *services: Service) -> None:
    await runtime.storage.save_tenant("other", "Other agency")
    for service in services:
        await runtime.storage.save_service(service)
    await runtime.reload_services()


def cookie_header(response: httpx.Response) -> str:
    [header] = response.headers.get_list("set-cookie")
    return header


# Sign-in, sessions, links, sign-out.


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
    # Used: refused, also when its signature is written another way (a "=" added).
    for used in (token, token + "="):
        again = await client.post(parts.path, data={"token": used})
        assert again.status_code == 401
        assert "used already" in again.text
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


# Figures on the pages.


async def test_ratings_sent_through_the_widget_appear_on_both_pages(
    client: httpx.AsyncClient, runtime: Runtime, flusher: Flusher
) -> None:
    for stars in (5, 4, 4, 2, 1):
        token = await fresh_token(client)
        assert (
            await post_rating(client, {"token": token, "rating": str(stars)})
        ).status_code == 303
    await flusher.run_once(block=False)
    await signed_in(client, runtime)
    overview = (await client.get("/dashboard")).text
    assert figure(overview, "Ratings") == "5"
    assert figure(overview, "Mean stars") == "3.20"
    assert figure(overview, "Satisfied (4 or 5 stars)") == "60.0%"
    [league] = Tables(overview).tables
    assert league[1] == [
        "not ranked",  # fewer than 10 ratings
        "Passport renewal (demo)",
        "0.2307",
        "5",
        "3.20",
        "60.0%",
        "\u2013",  # no widget views flushed yet
    ]
    service = (await client.get("/dashboard/services/demo-passport")).text
    assert figure(service, "Ratings") == "5"
    assert "5 stars: 1 (20.0%); 4 stars: 2 (40.0%); 3 stars: 0 (0.0%)" in service


async def test_the_league_table_ranks_own_services_only(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await add_services(
        runtime,
        Service(slug="permits", tenant_id="demo", name="Building permits"),
        Service(slug="parking", tenant_id="demo", name="Parking fines"),
        Service(slug="secret", tenant_id="other", name="Other agency's service"),
    )
    ratings = [
        *(stored_rating(n, 5, service="permits") for n in range(12)),
        *(stored_rating(100 + n, 4 if n < 16 else 2, service="parking") for n in range(20)),
        *(stored_rating(200 + n, 5, service="secret") for n in range(30)),
        stored_rating(300, 1, service="demo-passport"),
    ]
    await runtime.storage.store(ratings)
    await signed_in(client, runtime)
    page = (await client.get(f"/dashboard?{JANUARY}")).text
    rows = Tables(page).tables[0][1:]
    assert [row[:4] for row in rows] == [
        ["1", "Building permits", "0.7575", "12"],
        ["2", "Parking fines", "0.5840", "20"],
        ["not ranked", "Passport renewal (demo)", "0.0000", "1"],
    ]
    assert "Other agency" not in page
    assert figure(page, "Ratings") == "33"
    assert figure(page, "Services rated") == "3 of 3"
    foreign = await client.get("/dashboard/services/secret")
    missing = await client.get("/dashboard/services/nothing")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.headers["content-type"].startswith("text/html")
    assert "No service &#39;secret&#39; in your tenant." in foreign.text
    unknown = await client.get("/dashboard/no/such/page")
    assert unknown.status_code == 404
    assert "There is no dashboard page at /dashboard/no/such/page." in unknown.text
    # Another tenant's analyst cannot pick a tenant either.
    assert "Building permits" in (await client.get("/dashboard?tenant=other")).text


async def test_a_platform_token_chooses_a_tenant(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await add_services(runtime, Service(slug="secret", tenant_id="other", name="Other service"))
    await runtime.storage.store([stored_rating(1, 5, service="secret")])
    await signed_in(client, runtime, tenant="*", role="platform")
    every = (await client.get(f"/dashboard?{JANUARY}")).text
    assert Tables(every).headings == ["All tenants"]
    assert '<option value="other">Other agency</option>' in every
    names = [row[1] for row in Tables(every).tables[0][1:]]
    assert names == ["Other service", "Passport renewal (demo)"]
    other = (await client.get(f"/dashboard?{JANUARY}&tenant=other")).text
    assert [row[1] for row in Tables(other).tables[0][1:]] == ["Other service"]
    assert (await client.get("/dashboard?tenant=nobody")).status_code == 404
    assert (await client.get(f"/dashboard/services/secret?{JANUARY}")).status_code == 200


async def test_the_service_page_shows_every_section(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await add_services(
        runtime,
        Service(
            slug="svc",
            tenant_id="demo",
            name="Vehicle registration",
            config=ServiceConfig(questions=("resolved", "easy")),
        ),
    )
    await runtime.storage.store(
        [
            stored_rating(1, 5, comment="Quick and polite", answers={"resolved": "yes"}),
            stored_rating(
                2,
                1,
                received_at=DAY_ONE + DAY,
                comment="Очередь два часа",
                language="ru",
                answers={"resolved": "no", "easy": "disagree"},
                device_class="desktop",
            ),
            stored_rating(3, 2, received_at=DAY_ONE + 3 * DAY, comment="<b>rude</b>"),
            stored_rating(4, 4, received_at=DAY_ONE + 3 * DAY, answers={"resolved": "yes"}),
            stored_rating(5, 1, comment="bot spam", is_bot=True, device_class="bot"),
        ]
    )
    await runtime.storage.store_impressions("batch-1", [("svc", DAY_ONE, 8)])
    await signed_in(client, runtime)
    response = await client.get(f"/dashboard/services/svc?{JANUARY}")
    assert response.status_code == 200
    page = response.text
    assert figure(page, "Ratings") == "4"
    assert figure(page, "Mean stars") == "3.00"
    assert figure(page, "Satisfied (4 or 5 stars)") == "50.0%"
    assert figure(page, "Response rate") == "50.0%"
    assert figure(page, "Comments") == "3"
    assert "4 ratings from 8 views of the rating form: 50.0%." in page
    assert "1 rating from bots left out." in page
    # The trend: one row per day of January, the empty ones too.
    trend = Tables(page).tables[0]
    assert len(trend) == 1 + 31
    assert trend[1] == ["2026-01-01", "1", "5.00", "100.0%"]
    assert trend[2] == ["2026-01-02", "1", "1.00", "0.0%"]
    assert trend[3] == ["2026-01-03", "0", "\u2013", "\u2013"]
    assert 'aria-label="Ratings per day from 2026-01-01 to 2026-01-31; the most, 2, in ' in page
    assert "Ratings by device: Phone: 3 (75.0%), mean 3.67; Computer: 1 (25.0%), mean 1.00" in page
    assert "Ratings by language: English: 3 (75.0%), mean 3.67; Russian: 1 (25.0%)" in page
    assert "Was your issue resolved?: Yes: 2 (66.7%); Partly: 0 (0.0%); No: 1 (33.3%)" in page
    assert "It was easy to do.: Agree: 0 (0.0%); Disagree: 1 (100.0%)" in page
    comments = re.findall(
        r"<strong>(\d) stars?</strong> · ([^·]+?) · (\w+)</p>\s*<blockquote", page
    )
    assert comments == [
        ("1", "2026-01-02 00:00", "Russian"),
        ("2", "2026-01-04 00:00", "English"),
        ("5", "2026-01-01 00:00", "English"),
    ]
    assert '<blockquote lang="ru">Очередь два часа</blockquote>' in page
    assert "&lt;b&gt;rude&lt;/b&gt;" in page
    assert "bot spam" not in page


async def test_recurring_problems_come_from_low_star_comments(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    texts = ["Long queue at the office", "A long queue again", "Two hours of long queue"]
    await runtime.storage.store(
        [
            *(stored_rating(n, 1 + n % 2, comment=text) for n, text in enumerate(texts)),
            stored_rating(10, 2, comment="Очередь огромная", language="ru"),
            stored_rating(11, 5, comment="No queue, long live the office"),
            stored_rating(12, 1, comment="long queue long queue", is_bot=True),
        ]
    )
    await add_services(runtime, Service(slug="svc", tenant_id="demo", name="Permits"))
    await signed_in(client, runtime)
    page = (await client.get(f"/dashboard/services/svc?{JANUARY}")).text
    assert "several of the 4 newest 1 and 2 star comments share" in page
    assert '<h3 id="problems-en">English: 3 comments</h3>' in page
    assert "problems-ru" not in page  # one Russian comment repeats nothing
    [terms] = [table for table in Tables(page).tables if table[0][0] == "Term"]
    assert terms[1] == ["long queue", "3", "100.0%", "Two hours of long queue"]  # newest
    assert [row[0] for row in terms[1:]] == ["long queue"]


async def test_empty_periods_say_so(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await signed_in(client, runtime)
    overview = (await client.get("/dashboard")).text
    assert "No ratings in this period." in overview
    assert figure(overview, "Mean stars") == "\u2013"
    service = (await client.get("/dashboard/services/demo-passport")).text
    assert service.count("No ratings in this period.") == 4
    assert "No views of the rating form were counted in this period." in service
    assert "No comments in this period." in service
    assert service.count("No answers in this period.") == 2  # resolved, duration
    assert "No 1 or 2 star comments in this period." in service
    assert "<svg" not in service


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        (
            "from=2026-13-01",
            "&#39;from&#39; must be a date as YYYY-MM-DD, not &#39;2026-13-01&#39;",
        ),
        ("to=yesterday", "&#39;to&#39; must be a date as YYYY-MM-DD, not &#39;yesterday&#39;"),
        ("from=2026-02-01&to=2026-01-01", "&#39;from&#39; is after &#39;to&#39;"),
        ("from=1990-01-01&to=2026-01-01", "&#39;from&#39; is more than ten years before"),
        ("to=0001-01-05", "&#39;to&#39; must be between 1970-01-01 and 2999-12-31"),
        ("from=2026-01-01&to=9999-12-31", "&#39;to&#39; must be between 1970-01-01 and "),
        ("from=2026-01-01&to=2999-12-31", "&#39;to&#39; must lie between 1970-01-01 and "),
    ],
)
@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/services/demo-passport"])
async def test_bad_dates_give_a_400_page_naming_the_field(
    client: httpx.AsyncClient, runtime: Runtime, path: str, query: str, detail: str
) -> None:
    await signed_in(client, runtime)
    response = await client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>This period cannot be shown</h1>" in response.text
    assert detail in response.text
    assert f'<a href="{path}">Show the last 30 days instead</a>' in response.text


async def test_every_page_has_a_strict_policy_matching_its_stylesheet(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    pages = [await client.get("/dashboard/sign-in"), await sign_in(client, "bad")]
    await signed_in(client, runtime)
    pages += [
        await client.get("/dashboard"),
        await client.get("/dashboard/services/demo-passport"),
        await client.get("/dashboard/services/nothing"),
    ]
    for response in pages:
        policy = response.headers["content-security-policy"]
        style = re.search(r"<style>(.*?)</style>", response.text, re.DOTALL)
        assert style
        digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
        assert policy == (
            f"default-src 'none'; style-src 'sha256-{digest}'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<script" not in response.text
        assert " style=" not in response.text


# Charts and periods as functions.


def test_bar_charts_escape_labels_and_state_their_numbers() -> None:
    svg = charts.bar_chart(
        "Stars <by>", [charts.Bar("<script>", 3, "3 (75.0%)"), charts.Bar("b", 1, "1 (25.0%)")]
    )
    assert svg.startswith('<svg class="chart bars" width="100%" height="88" role="img" ')
    assert 'aria-label="Stars &lt;by&gt;: &lt;script&gt;: 3 (75.0%); b: 1 (25.0%)"' in svg
    assert "<script>" not in svg
    assert '<rect class="bar" x="0" y="21" width="100%"' in svg  # the largest: full width
    assert '<rect class="bar" x="0" y="65" width="33.33%"' in svg


def test_line_charts_break_at_gaps() -> None:
    points = [charts.Point(str(n), f"p{n}", value) for n, value in enumerate([4.0, None, 3, 5])]
    svg = charts.line_chart("Mean", "Mean stars", points)
    assert svg.count('<circle class="dot"') == 3
    assert svg.count('<line class="trend"') == 1  # only the last two periods are joined


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20), (250, 500)]
)
def test_column_scales_end_on_round_numbers(value: float, ceiling: float) -> None:
    assert charts.nice_ceiling(value) == ceiling


@pytest.mark.parametrize(
    ("first", "last", "interval", "starts"),
    [
        (date(2026, 1, 1), date(2026, 1, 3), "day", 3),
        (date(2026, 1, 1), date(2026, 3, 3), "day", 62),
        (date(2026, 1, 1), date(2026, 3, 4), "week", 10),  # from Monday 2025-12-29
        (date(2025, 12, 1), date(2026, 11, 23), "month", 12),
    ],
)
def test_the_trend_interval_follows_the_span(
    first: date, last: date, interval: str, starts: int
) -> None:
    period = ReportPeriod(first, last)
    assert period.interval == interval
    assert len(period.starts()) == starts
    assert period.starts()[0] <= first


def test_an_open_end_is_filled_with_thirty_days() -> None:
    assert choose_period(None, "2026-01-30", "UTC") == ReportPeriod(
        date(2026, 1, 1), date(2026, 1, 30)
    )
    assert choose_period("2026-01-01", "2026-01-01", "UTC").days == 1
    with pytest.raises(BadRequest) as raised:
        choose_period("2126-01-01", None, "UTC")  # after today
    assert raised.value.field == "from"


def test_month_labels_name_the_year_where_the_shown_year_changes() -> None:
    starts = ReportPeriod(date(2025, 11, 1), date(2026, 11, 23)).starts()
    step = charts.axis_step(len(starts))
    assert step == 3
    shown = axis_labels(starts, "month", step)[::step]
    assert shown == ["Nov 2025", "Feb 2026", "May", "Aug", "Nov"]
