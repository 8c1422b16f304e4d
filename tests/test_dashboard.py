"""The dashboard's pages over the real app: exact figures, tenant isolation, errors as
pages, headers. Sign-in is in test_dashboard_session.py, charts in
test_dashboard_charts.py."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from collector.flusher import Flusher
from collector.runtime import Runtime
from collector.services import Service, ServiceConfig
from tests.dashboard_pages import (
    JANUARY,
    Tables,
    add_services,
    figure,
    sign_in,
    signed_in,
)
from tests.helpers import DAY, DAY_ONE, fresh_token, post_rating, stored_rating


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
