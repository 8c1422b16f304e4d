"""Layouts, languages, questions, channels and the QR code, over HTTP."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import httpx
import pytest

from collector import keys
from collector.flusher import Flusher
from collector.messages import EVENT_DECODER
from collector.runtime import Runtime
from collector.services import Service, ServiceConfig
from tests.helpers import form_token, fresh_token, post_rating, stream_entries

LANGUAGES = ("en", "ru", "hy", "ky", "uz", "kk")
BUDGET_BYTES = 8 * 1024
THREE_QUESTIONS = Service(
    slug="permits",
    tenant_id="demo",
    name="Building permits",
    config=ServiceConfig(
        names={"ru": "Разрешения на строительство"},
        questions=("duration", "resolved", "staff_helpful"),
        question_texts={"en": {"staff_helpful": "The clerk at window 3 was helpful."}},
    ),
)


@pytest.fixture
async def permits(runtime: Runtime) -> Service:
    await use_service(runtime, THREE_QUESTIONS)
    return THREE_QUESTIONS


async def use_service(runtime: Runtime, service: Service) -> None:
    """Store a service and load it, as a collector does on its periodic reload."""
    await runtime.storage.save_service(service)
    await runtime.reload_services()


def english_catalog() -> dict[str, str]:
    path = Path(__file__).parent.parent / "widget" / "translations" / "en.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("layout", ["compact", "full", "page"])
@pytest.mark.parametrize("language", LANGUAGES)
async def test_every_layout_and_language_within_budget(
    client: httpx.AsyncClient, permits: Service, layout: str, language: str
) -> None:
    form = await client.get(f"/w/permits?layout={layout}&lang={language}")
    assert form.status_code == 200
    assert f'<html lang="{language}" dir="ltr">' in form.text
    assert f'<body class="{layout}">' in form.text
    error = await post_rating(
        client, {"token": form_token(form.text), "lang": language, "layout": layout}, "permits"
    )
    assert error.status_code == 422
    thanks = await client.get(f"/w/permits/thanks?lang={language}&layout={layout}")
    for page in (form, error, thanks):
        assert len(page.content) <= BUDGET_BYTES, (layout, language, len(page.content))
        assert "<script" not in page.text
        assert "set-cookie" not in page.headers
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)
        english_only = {value for value in english_catalog().values() if len(value) > 12}
        if language != "en":  # no English text left on a translated page
            assert not [text for text in english_only if text in page.text]


async def test_compact_has_only_stars_and_a_button(
    client: httpx.AsyncClient, permits: Service
) -> None:
    html = (await client.get("/w/permits?layout=compact")).text
    assert "<textarea" not in html
    assert 'name="q_' not in html
    assert "<legend>Rate this service</legend>" in html
    assert ">Send</button>" in html
    assert "--box:120px" in html


async def test_full_asks_the_services_questions_in_its_words(
    client: httpx.AsyncClient, permits: Service
) -> None:
    html = (await client.get("/w/permits")).text
    assert "How long did it take?" in html
    assert "Was your issue resolved?" in html
    assert "The clerk at window 3 was helpful." in html  # the service's own wording
    assert "I trust this service." not in html  # not one of this service's questions
    assert "--box:740px" in html  # three questions
    assert 'name="q_resolved" id="q_resolved-1" value="partly"' in html


async def test_page_layout_offers_languages_and_counts_as_a_link(
    client: httpx.AsyncClient, permits: Service
) -> None:
    html = (await client.get("/w/permits?layout=page&lang=ru")).text
    assert 'name="channel" value="link"' in html
    assert "Разрешения на строительство" in html
    assert '<span aria-current="true">Русский</span>' in html
    assert 'hreflang="hy">Հայերեն</a>' in html
    qr = await client.get("/w/permits?layout=page&channel=qr")
    assert 'name="channel" value="qr"' in qr.text


async def test_unknown_layout_falls_back_to_the_services(client: httpx.AsyncClient) -> None:
    html = (await client.get("/w/demo-passport?layout=huge")).text
    assert '<body class="full">' in html


async def test_answers_travel_with_the_rating_and_are_counted(
    client: httpx.AsyncClient, runtime: Runtime, permits: Service, flusher: Flusher
) -> None:
    token = await fresh_token(client, "permits")
    fields = {"token": token, "rating": "2", "q_duration": "longer", "q_resolved": "partly"}
    response = await post_rating(
        client, {**fields, "layout": "page", "channel": "kiosk"}, "permits"
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("layout=page&channel=kiosk")
    entries = await stream_entries(runtime.redis, keys.STREAM)
    event = EVENT_DECODER.decode(entries[0][1][b"e"])
    assert event.answers == {"duration": "longer", "resolved": "partly"}
    assert event.channel == "kiosk"
    await flusher.run_once(block=False)
    figures = await runtime.storage.summary("permits", None, None)
    assert figures.answers == {"duration": {"longer": 1}, "resolved": {"partly": 1}}
    thanks = await client.get(response.headers["location"])
    assert 'href="/w/permits?lang=en&amp;layout=page&amp;channel=kiosk"' in thanks.text


async def test_an_answer_not_offered_is_shown_again(
    client: httpx.AsyncClient, runtime: Runtime, permits: Service
) -> None:
    token = await fresh_token(client, "permits")
    response = await post_rating(
        client, {"token": token, "rating": "4", "q_resolved": "maybe"}, "permits"
    )
    assert response.status_code == 422
    assert "Choose one of the offered answers." in response.text
    assert await runtime.redis.xlen(keys.STREAM) == 0


async def test_a_question_the_service_does_not_ask_is_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await fresh_token(client)
    response = await post_rating(client, {"token": token, "rating": "4", "q_trust": "agree"})
    assert response.status_code == 400
    assert await runtime.redis.xlen(keys.STREAM) == 0


async def test_qr_code_is_an_svg_of_the_standalone_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/w/demo-passport/qr.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    svg = ElementTree.fromstring(response.content)  # noqa: S314 (our own server's output)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert int(svg.attrib["width"]) >= 200  # printable at a counter
    assert (await client.post("/w/demo-passport/qr.svg")).status_code == 405


async def test_each_theme_has_its_own_style_hash(
    client: httpx.AsyncClient, permits: Service
) -> None:
    first = (await client.get("/w/permits")).headers["content-security-policy"]
    second = (await client.get("/w/demo-passport")).headers["content-security-policy"]
    compact = (await client.get("/w/permits?layout=compact")).headers["content-security-policy"]
    assert len({first, second, compact}) == 3


async def test_only_the_services_languages_are_offered(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    kazakh_and_russian = Service(
        slug="kk-ru",
        tenant_id="demo",
        name="Salyq",
        default_language="kk",
        config=ServiceConfig(languages=("kk", "ru")),
    )
    await use_service(runtime, kazakh_and_russian)
    assert '<html lang="kk"' in (await client.get("/w/kk-ru?lang=en")).text
    russian = await client.get("/w/kk-ru", headers={"accept-language": "en, ru;q=0.8"})
    assert '<html lang="ru"' in russian.text
    page = (await client.get("/w/kk-ru?layout=page")).text
    assert "English" not in page
    assert 'hreflang="ru"' in page
    # A default language the service does not offer yields to one it does.
    offered = ServiceConfig(languages=("ru", "kk"))
    await use_service(runtime, Service(slug="ru-kk", tenant_id="demo", name="S", config=offered))
    assert '<html lang="ru"' in (await client.get("/w/ru-kk?lang=en")).text


async def test_refusals_keep_the_forms_language_layout_and_a_way_back(
    client: httpx.AsyncClient, permits: Service
) -> None:
    response = await post_rating(
        client,
        {"token": "forged", "rating": "4", "lang": "ru", "layout": "compact", "channel": "kiosk"},
        "permits",
    )
    assert response.status_code == 403
    assert '<html lang="ru"' in response.text
    assert '<body class="compact">' in response.text
    assert 'href="/w/permits?lang=ru&amp;layout=compact&amp;channel=kiosk"' in response.text
    assert "Вернуться к форме оценки" in response.text


async def test_summary_links_only_to_fields_on_the_page(
    client: httpx.AsyncClient, permits: Service
) -> None:
    token = await fresh_token(client, "permits")
    fields = {"token": token, "layout": "compact", "comment": "x" * 1001, "q_resolved": "maybe"}
    html = (await post_rating(client, fields, "permits")).text
    links = re.findall(r'<li><a href="#([^"]+)">', html)
    assert links == ["r1"]  # the rating; the comment and question are not in compact
    assert "longer than 1,000 characters" in html


async def test_a_bad_answer_to_an_unasked_question_is_a_400(client: httpx.AsyncClient) -> None:
    token = await fresh_token(client)
    response = await post_rating(client, {"token": token, "q_trust": "maybe"})
    assert response.status_code == 400


async def test_frame_ancestors_follow_the_services_origins(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    framed = Service(
        slug="framed",
        tenant_id="demo",
        name="Framed",
        config=ServiceConfig(allowed_origins=("https://e-gov.example.am", "http://127.0.0.1:8080")),
    )
    await use_service(runtime, framed)

    def ancestors(response: httpx.Response) -> str:
        policy = response.headers["content-security-policy"]
        return policy.split("frame-ancestors ")[1]

    assert ancestors(await client.get("/w/framed")) == (
        "https://e-gov.example.am http://127.0.0.1:8080"
    )
    assert ancestors(await client.get("/w/framed/thanks")) == (
        "https://e-gov.example.am http://127.0.0.1:8080"
    )
    assert ancestors(await client.get("/w/demo-passport")) == "*"  # no origins set yet
    assert ancestors(await client.get("/w/no-such-service")) == "'none'"
