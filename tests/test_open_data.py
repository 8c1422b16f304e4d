"""GET /open/{service}[.json|.csv]: opt-in, monthly cells, suppression, CSV and page safety."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from collector.open_figures import month_text
from collector.runtime import Runtime
from tests.clock import StoppedClock
from tests.open_data_setup import RULE_5, count_only, hidden_month, open_service, rate, utc


async def test_json_publishes_the_count_and_withholds_all_details_or_none(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await open_service(runtime, minimum_count=5)
    await rate(runtime, utc("2025-01-15T10:00"), 0, 0, 1, 1, 2)  # 4 ratings: below 5
    # 40 ratings, only the 3 one-star ones below 5: no star count, mean or CSAT at all.
    await rate(runtime, utc("2025-03-10T10:00"), 3, 6, 9, 10, 12)
    # 35 ratings, every star count at least 5: everything.
    await rate(runtime, utc("2025-04-10T10:00"), 5, 6, 7, 8, 9)
    response = await client.get("/open/svc.json?from=2025-01&to=2025-04")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body.pop("generated_at"))
    assert body == {
        "service": "svc",
        "service_name": "Parking permits",
        "tenant": "City Hall",
        "agency": "City Hall",
        "time_zone": "UTC",
        "minimum_count": 5,
        "period_from": "2025-01",
        "period_to": "2025-04",
        "suppression": {"minimum_count": 5, "rule": RULE_5},
        "months": [
            hidden_month("2025-01"),
            hidden_month("2025-02"),
            count_only("2025-03", 40),
            {
                "month": "2025-04",
                "published": True,
                "count": 35,
                "mean": 3.2857,  # (5 + 12 + 21 + 32 + 45) / 35
                "csat": 0.4857,  # (8 + 9) / 35
                "stars": {"one": 5, "two": 6, "three": 7, "four": 8, "five": 9},
            },
        ],
    }


async def test_nine_ratings_are_hidden_and_ten_published_at_the_default_threshold(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await open_service(runtime)
    await rate(runtime, utc("2025-05-31T23:59"), 0, 0, 0, 4, 5)
    # Ten five-star ratings: the count is published, but four star counts are zero.
    await rate(runtime, utc("2025-06-01T00:00"), 0, 0, 0, 0, 10)
    body = (await client.get("/open/svc.json?from=2025-05&to=2025-06")).json()
    assert (body["minimum_count"], body["suppression"]["minimum_count"]) == (10, 10)
    assert body["months"] == [hidden_month("2025-05"), count_only("2025-06", 10)]


async def test_details_only_where_every_star_count_reaches_the_minimum(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await open_service(runtime)
    await rate(runtime, utc("2025-04-10T10:00"), 10, 10, 10, 10, 10)  # all exactly 10
    await rate(runtime, utc("2025-05-10T10:00"), 9, 10, 10, 10, 10)  # one star count is 9
    await rate(runtime, utc("2025-06-10T10:00"), 10, 10, 12, 14, 14)
    await rate(runtime, utc("2025-07-10T10:00"), 0, 15, 15, 15, 15)  # a zero is below 10
    # Hiding only the two 9s would leave 18 over two cells of at most 9: both 9.
    await rate(runtime, utc("2025-08-10T10:00"), 9, 9, 14, 14, 14)
    body = (await client.get("/open/svc.json?from=2025-04&to=2025-08")).json()
    assert body["months"] == [
        {
            "month": "2025-04",
            "published": True,
            "count": 50,
            "mean": 3.0,  # (10 + 20 + 30 + 40 + 50) / 50
            "csat": 0.4,  # (10 + 10) / 50
            "stars": {"one": 10, "two": 10, "three": 10, "four": 10, "five": 10},
        },
        count_only("2025-05", 49),
        {
            "month": "2025-06",
            "published": True,
            "count": 60,
            "mean": 3.2,  # (10 + 20 + 36 + 56 + 70) / 60
            "csat": 0.4667,  # (14 + 14) / 60
            "stars": {"one": 10, "two": 10, "three": 12, "four": 14, "five": 14},
        },
        count_only("2025-07", 60),
        count_only("2025-08", 60),
    ]
    rows = (await client.get("/open/svc.csv?from=2025-04&to=2025-08")).text.splitlines()
    # Withheld figures are empty cells, like null in the JSON.
    assert [row.split(",", 4)[4] for row in rows[1:]] == [
        "true,50,3.0,0.4,10,10,10,10,10",
        "true,49,,,,,,,",
        "true,60,3.2,0.4667,10,10,12,14,14",
        "true,60,,,,,,,",
        "true,60,,,,,,,",
    ]
    page = (await client.get("/open/svc?from=2025-04&to=2025-08")).text
    assert (
        "<td>50</td><td>3.00</td><td>40.0%</td>"
        "<td>10</td><td>10</td><td>10</td><td>10</td><td>10</td></tr>"
    ) in page
    assert (
        "<td>60</td><td>3.20</td><td>46.7%</td>"
        "<td>10</td><td>10</td><td>12</td><td>14</td><td>14</td></tr>"
    ) in page
    withheld = (
        '<td class="none" colspan="7">Details withheld, see <a href="#details-withheld">note</a>'
        "</td>\n</tr>"
    )
    assert page.count(withheld) == 3
    assert page.count(f"<td>49</td>{withheld}") == 1
    assert page.count(f"<td>60</td>{withheld}") == 2
    # The withheld star counts appear nowhere on the page, not even as "<10".
    assert "&lt;10" not in page
    assert page.count('<p id="details-withheld">') == 1
    # A page without withheld details has no note to point to.
    complete = (await client.get("/open/svc?from=2025-04&to=2025-04")).text
    assert "<td>50</td><td>3.00</td><td>40.0%</td>" in complete
    assert "details-withheld" not in complete
    assert "Details withheld" not in complete


async def test_months_are_the_tenants_local_months(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await open_service(runtime, time_zone="Asia/Yerevan")
    # Yerevan is UTC+4 all year: 23:30 UTC on 31 January is 03:30 on 1 February there,
    # 19:59 UTC on 28 February is 23:59 that day and 20:00 UTC is midnight of 1 March.
    await rate(runtime, utc("2025-01-31T23:30"), 0, 0, 0, 0, 10)
    await rate(runtime, utc("2025-02-28T19:59"), 0, 0, 0, 10, 0)
    await rate(runtime, utc("2025-02-28T20:00"), 0, 0, 10, 0, 0)
    body = (await client.get("/open/svc.json?from=2025-01&to=2025-03")).json()
    assert body["time_zone"] == "Asia/Yerevan"
    # February holds 10 four-star and 10 five-star ratings, March 10 three-star ones: each
    # has zero counts, so both publish their count alone.
    assert body["months"] == [
        hidden_month("2025-01"),
        count_only("2025-02", 20),
        count_only("2025-03", 10),
    ]


# The last second of March in Yerevan (UTC+4), and the first of April.
_END_OF_MARCH = datetime(2026, 3, 31, 19, 59, 59, tzinfo=UTC)
_START_OF_APRIL = datetime(2026, 3, 31, 20, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("moment", [_END_OF_MARCH, _START_OF_APRIL])
async def test_default_period_is_the_24_complete_months_before_the_current_one(
    client: httpx.AsyncClient, runtime: Runtime, clock: StoppedClock, moment: datetime
) -> None:
    zone = ZoneInfo("Asia/Yerevan")
    await open_service(runtime, time_zone="Asia/Yerevan")
    clock.set(moment)
    now = moment.astimezone(zone)
    assert now.month == (3 if moment == _END_OF_MARCH else 4)
    current = now.year * 12 + now.month - 1
    # Ten ratings in the current month, which is never published, and ten at noon on the
    # first day of the month before it, the last complete one.
    await rate(runtime, int(now.timestamp() * 1000), 0, 0, 0, 0, 10)
    noon = datetime((current - 1) // 12, (current - 1) % 12 + 1, 1, 12, tzinfo=zone)
    await rate(runtime, int(noon.timestamp() * 1000), 0, 0, 0, 10)
    body = (await client.get("/open/svc.json")).json()
    first, last = month_text(current - 24), month_text(current - 1)
    assert (body["period_from"], body["period_to"]) == (first, last)
    assert [month["month"] for month in body["months"]] == [
        month_text(number) for number in range(current - 24, current)
    ]
    assert [month["published"] for month in body["months"]] == [False] * 23 + [True]
    assert body["months"][-1] == count_only(last, 10)
    # The page and the CSV default to the same months.
    page = (await client.get("/open/svc")).text
    assert f'<time datetime="{month_text(current)}">' not in page
    assert f'<time datetime="{last}">' in page
    csv_months = [
        row[3] for row in csv.reader(io.StringIO((await client.get("/open/svc.csv")).text))
    ]
    assert csv_months == ["month", *(month_text(n) for n in range(current - 24, current))]


@pytest.mark.parametrize("moment", [_END_OF_MARCH, _START_OF_APRIL])
async def test_the_current_month_cannot_be_asked_for(
    client: httpx.AsyncClient, runtime: Runtime, clock: StoppedClock, moment: datetime
) -> None:
    await open_service(runtime, time_zone="Asia/Yerevan")
    clock.set(moment)
    now = moment.astimezone(ZoneInfo("Asia/Yerevan"))
    await rate(runtime, int(now.timestamp() * 1000), 0, 0, 0, 0, 10)
    current = month_text(now.year * 12 + now.month - 1)
    to_detail = f"'to' must be a complete month, before {current}"
    for query, field, detail in [
        (f"to={current}", "to", to_detail),
        (f"from={current}&to={current}", "to", to_detail),
        # `to` defaults to the month before, so a `from` of the current month is after it.
        (f"from={current}", "from", "'from' is after 'to'"),
    ]:
        response = await client.get(f"/open/svc.json?{query}")
        assert (response.status_code, response.json()) == (
            400,
            {"status": 400, "error": "bad_request", "detail": detail, "field": field},
        )
        page = await client.get(f"/open/svc?{query}")
        assert page.status_code == 400
        assert "<p>" + detail.replace("'", "&#39;") + "</p>" in page.text
        assert (await client.get(f"/open/svc.csv?{query}")).status_code == 400


@pytest.mark.parametrize("suffix", ["", ".json", ".csv"])
async def test_a_service_not_opted_in_is_answered_like_a_missing_one(
    client: httpx.AsyncClient, runtime: Runtime, suffix: str
) -> None:
    await open_service(runtime, slug="closed", open_data=False)
    await open_service(runtime, slug="open")
    closed = await client.get(f"/open/closed{suffix}")
    missing = await client.get(f"/open/missing{suffix}")
    assert (await client.get(f"/open/open{suffix}")).status_code == 200
    assert closed.status_code == missing.status_code == 404
    assert closed.text.replace("closed", "missing") == missing.text
    # The JSON detail names the slug asked for, so only its length may differ.
    assert {**closed.headers, "content-length": ""} == {**missing.headers, "content-length": ""}
    if suffix == ".json":
        assert closed.json() == {
            "status": 404,
            "error": "not_found",
            "detail": "no open data for service 'closed'",
            "field": "service",
        }
    else:
        assert closed.headers["content-type"] == "text/html; charset=utf-8"
        assert "<h1>Not found</h1>" in closed.text


@pytest.mark.parametrize(
    ("query", "field", "detail"),
    [
        ("from=2025-13", "from", "'from' must be a month as YYYY-MM from 1970 on, not '2025-13'"),
        ("from=2025-1", "from", "'from' must be a month as YYYY-MM from 1970 on, not '2025-1'"),
        ("to=march", "to", "'to' must be a month as YYYY-MM from 1970 on, not 'march'"),
        ("from=1969-12", "from", "'from' must be a month as YYYY-MM from 1970 on, not '1969-12'"),
        ("from=2025-03&to=2025-01", "from", "'from' is after 'to'"),
        ("from=2020-01&to=2025-01", "from", "at most 60 months at a time"),
        ("to=2999-01", "to", "'to' must be a complete month, before "),
    ],
)
async def test_bad_months_get_400_naming_the_field(
    client: httpx.AsyncClient, runtime: Runtime, query: str, field: str, detail: str
) -> None:
    await open_service(runtime)
    response = await client.get(f"/open/svc.json?{query}")
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["field"]) == ("bad_request", field)
    assert body["detail"].startswith(detail)
    page = await client.get(f"/open/svc?{query}")
    assert page.status_code == 400
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert detail.replace("'", "&#39;") in page.text


async def test_csv_has_the_same_cells_and_no_formula(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await open_service(
        runtime, minimum_count=5, name='=HYPERLINK("http://evil.example")', agency="@SUM(1+1)"
    )
    await rate(runtime, utc("2025-02-10T10:00"), 5, 6, 7, 8, 9)
    await rate(runtime, utc("2025-03-10T10:00"), 3, 6, 9, 10, 12)
    response = await client.get("/open/svc.csv?from=2025-01&to=2025-03")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="svc.csv"'
    assert response.text == (
        "service,service_name,agency,month,published,count,mean,csat,one,two,three,four,five\r\n"
        """svc,"'=HYPERLINK(""http://evil.example"")",'@SUM(1+1),2025-01,false,<5,,,,,,,\r\n"""
        """svc,"'=HYPERLINK(""http://evil.example"")",'@SUM(1+1),2025-02,true,35,3.2857,0.4857,"""
        "5,6,7,8,9\r\n"
        """svc,"'=HYPERLINK(""http://evil.example"")",'@SUM(1+1),2025-03,true,40,,,"""
        ",,,,\r\n"
    )
    cells = [cell for row in csv.reader(io.StringIO(response.text)) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


async def test_page_has_a_table_and_a_strict_policy(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await open_service(runtime, minimum_count=5, name="Parking <permits>")
    await rate(runtime, utc("2025-02-10T10:00"), 5, 6, 7, 8, 9)
    await rate(runtime, utc("2025-03-10T10:00"), 3, 6, 9, 10, 12)
    response = await client.get("/open/svc?from=2025-01&to=2025-03")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=3600"
    html = response.text
    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert response.headers["content-security-policy"] == (
        f"default-src 'none'; style-src 'sha256-{digest}'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
    assert html.startswith('<!doctype html>\n<html lang="en">')
    assert '<meta name="viewport" content="width=device-width,initial-scale=1">' in html
    assert "<script" not in html.lower()
    assert "<h1>Parking &lt;permits&gt;: ratings by month</h1>" in html
    assert (
        "<p>Delivered by City Hall. People who used this service rated it from 1 to 5 stars.\n"
        "Months follow the UTC time zone; a month is shown only once it is over.\n"
        "Figures as of\n<time datetime="
    ) in html
    assert (
        '<caption id="caption">Ratings of Parking &lt;permits&gt;, January 2025 to March 2025'
        "</caption>"
    ) in html
    assert '<a href="svc.json" type="application/json">JSON</a>' in html
    assert '<a href="svc.csv" type="text/csv">CSV</a>' in html
    assert (
        '<tr><th scope="row"><time datetime="2025-01">January 2025</time></th>\n'
        '<td>&lt;5</td><td class="none" colspan="7">Not published: fewer than 5 ratings</td>\n'
        "</tr>\n"
        '<tr><th scope="row"><time datetime="2025-02">February 2025</time></th>\n'
        "<td>35</td><td>3.29</td><td>48.6%</td>"
        "<td>5</td><td>6</td><td>7</td><td>8</td><td>9</td></tr>\n"
        '<tr><th scope="row"><time datetime="2025-03">March 2025</time></th>\n'
        '<td>40</td><td class="none" colspan="7">Details withheld, see '
        '<a href="#details-withheld">note</a></td>\n'
        "</tr>\n"
        "</tbody>\n</table>\n</div>\n"
        '<p id="details-withheld">Note: a month that shows its number of ratings and nothing '
        "else had\nfewer than 5 ratings of 1 star, of 2 stars, or of some other number\n"
        "of stars (none at all counts as fewer). Its star counts, mean stars and share "
        "satisfied are\nthen all withheld, not only the small count: from the number of "
        "ratings, the mean and the\nother star counts, anyone could work the small one out."
        "</p>\n"
        "<h2>Why some numbers are hidden</h2>\n"
        f"<p>{RULE_5}</p>\n"
    ) in html


async def test_the_json_is_documented_in_openapi(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/open/{service}"]["get"]
    content = operation["responses"]["200"]["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/OpenData"}
    assert set(operation["responses"]) == {"200", "400", "404"}
    properties = schema["components"]["schemas"]["OpenData"]["properties"]
    assert list(properties) == [
        "service",
        "service_name",
        "tenant",
        "agency",
        "time_zone",
        "minimum_count",
        "generated_at",
        "period_from",
        "period_to",
        "suppression",
        "months",
    ]
