"""No stored value can make a page fail: hostile texts written straight into storage,
around the admin API's and the CLI's validation, and every page that shows them."""

from __future__ import annotations

import html
import re
import sqlite3

import httpx
import msgspec
import pytest

from collector.questions import QuestionId
from collector.runtime import Runtime
from collector.services import Service, ServiceConfig
from collector.storage.sqlite import sqlite_path
from tests.dashboard_pages import signed_in
from tests.helpers import bearer, stored_rating

HOSTILE = {
    "NUL": "Passport\x00renewal",
    "C0 and C1 controls": "Pass\x1b[31mport\x07\x7f\x85\x9f",
    "bidi overrides": "\u202e" + "Անձնագիր" + "\u2066isolated\u2069\u200f",
    "markup": "</style></title></textarea><script>alert(1)</script>&amp;",
    "separators": "line\u2028paragraph\u2029mark\ufeff",
    "100 KB": "Ա" * 100_000,
}
# Nothing an admin gives may reach a page raw, whatever storage held.
_NOT_PLAIN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028]")
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')
QUESTIONS: tuple[QuestionId, ...] = ("resolved", "duration", "easy")
LAYOUTS = ("compact", "full", "page")
# The open-data page's row for the month of store_hostile's ratings (40 days before
# the runtime's clock, 2026-06-15).
PUBLISHED_MAY = (
    '<time datetime="2026-05">May 2026</time></th>\n'
    "<td>30</td><td>3.00</td><td>40.0%</td>" + "<td>6</td>" * 5 + "</tr>"
)


async def store_hostile(runtime: Runtime, text: str) -> None:
    """A tenant and an open-data service full of the text, and rated comments with it."""
    await runtime.storage.save_tenant("t", text)
    config = ServiceConfig(
        names={"en": text, "ru": text},
        questions=QUESTIONS,
        question_texts={"en": dict.fromkeys(QUESTIONS, text)},
        agency=text,
        open_data=True,
        open_data_minimum_count=5,
    )
    await runtime.storage.save_service(Service(slug="svc", tenant_id="t", name=text, config=config))
    # By the runtime's clock, as the open-data pages count complete months by it.
    forty_days_ago = int(runtime.clock() * 1000) - 40 * 86_400_000
    ratings = [
        stored_rating(n, stars=n % 5 + 1, received_at=forty_days_ago, comment=text[:1000])
        for n in range(1, 31)
    ]
    assert await runtime.storage.store(ratings) == 30
    await runtime.reload_services()


def plain(response: httpx.Response) -> None:
    """Shown to a person: the hostile characters replaced, markup escaped, bounded."""
    assert not _NOT_PLAIN.search(response.text), response.url
    assert "<script>alert" not in response.text
    assert len(response.content) < 64_000, response.url


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
async def test_widget_pages(runtime: Runtime, client: httpx.AsyncClient, text: str) -> None:
    await store_hostile(runtime, text)
    assert (await client.get("/w/svc/qr.svg")).status_code == 200
    for layout in LAYOUTS:
        for language in ("en", "ru"):
            form = await client.get(f"/w/svc?layout={layout}&lang={language}")
            assert form.status_code == 200
            plain(form)
            fields = {name: html.unescape(value) for name, value in _HIDDEN.findall(form.text)}
            refused = await client.post("/w/svc", data=fields)  # no star chosen
            assert refused.status_code == 422
            plain(refused)
            sent = await client.post("/w/svc", data=fields | {"rating": "4"})
            assert sent.status_code == 303
            thanks = await client.get(sent.headers["location"])
            assert thanks.status_code == 200
            plain(thanks)


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
async def test_dashboard_open_data_and_api(
    runtime: Runtime, client: httpx.AsyncClient, text: str
) -> None:
    await store_hostile(runtime, text)
    for path in ("/open/svc", "/open/svc.json", "/open/svc.csv"):
        response = await client.get(path)
        assert response.status_code == 200, path
        if path == "/open/svc":
            plain(response)
            # Figures rendered, not only withheld months: the month of the 30 ratings
            # (6 per star) with its count, mean, CSAT and star counts.
            assert PUBLISHED_MAY in response.text
    published = [m for m in (await client.get("/open/svc.json")).json()["months"] if m["count"]]
    assert [(m["published"], m["count"]) for m in published] == [(True, 30)]
    await signed_in(client, runtime, "*", "platform")
    overview = await client.get("/dashboard?tenant=t")
    assert overview.status_code == 200
    plain(overview)
    # Shows citizens' comments too, which are theirs to write: judged for no failure.
    assert (await client.get("/dashboard/services/svc")).status_code == 200
    platform = bearer(runtime.analyst_tokens.issue("*", role="platform"))
    for path in (
        "/api/v1/admin/services",
        "/api/v1/admin/services/svc",
        "/api/v1/admin/tenants",
        "/api/v1/services/svc/summary",
        "/api/v1/services/svc/breakdown/language",
        "/api/v1/services/svc/problems",
        "/api/v1/rankings/services?tenant=t",
        "/api/v1/rankings/agencies?tenant=t",
        "/api/v1/comments?service=svc",
        "/api/v1/exports/ratings?format=csv",
        "/api/v1/exports/ratings?format=ndjson",
    ):
        response = await client.get(path, headers=platform)
        assert response.status_code == 200, (path, response.text[:200])


async def test_malformed_stored_origins_frame_nothing(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """An origin's pattern lets a final newline through; the header never has it."""
    for origins, ancestors in (
        (("https://portal.example\n",), "frame-ancestors 'none'"),
        (
            ("https://portal.example\n", "https://e-gov.example"),
            "frame-ancestors https://e-gov.example",
        ),
    ):
        config = ServiceConfig(allowed_origins=origins)
        await runtime.storage.save_service(
            Service(slug="svc", tenant_id="demo", name="S", config=config)
        )
        await runtime.reload_services()
        response = await client.get("/w/svc")
        assert response.status_code == 200
        assert response.headers["content-security-policy"].endswith(ancestors)


async def test_a_configuration_beyond_repair_leaves_only_its_service_out(
    runtime: Runtime, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await runtime.storage.save_service(Service(slug="svc", tenant_id="demo", name="S"))
    with sqlite3.connect(sqlite_path(runtime.settings.effective_database_url)) as database:
        broken = msgspec.json.encode({"theme": {"accent": "#ffff00"}, "names": {"en": "x" * 500}})
        database.execute("UPDATE services SET config = ? WHERE slug = 'svc'", (broken.decode(),))
    await runtime.reload_services()
    await runtime.reload_services()  # logged once, not once a second
    assert (await client.get("/w/svc")).status_code == 404
    assert (await client.get("/w/demo-passport")).status_code == 200
    refused = [r.message for r in caplog.records if "its stored configuration" in r.message]
    assert len(refused) == 1
    assert "contrast" in refused[0]
