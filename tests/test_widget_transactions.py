"""The widget with portal transaction tokens: one rating per transaction, friendly
refusals, counters per reason, and revocation that bites at once."""

from __future__ import annotations

import re
import sqlite3
import time

import httpx
import msgspec
import pytest

from collector import keys
from collector.flusher import Flusher
from collector.messages import EVENT_DECODER, RatingEvent
from collector.rejections import UNKNOWN_SERVICE
from collector.runtime import Runtime
from collector.services import DEMO_SERVICE
from tests.helpers import form_token, stream_entries
from tests.portal_tokens import claims, demo_keys, sign

SERVICE = "/w/demo-passport"
_TRANSACTION = re.compile(r'name="transaction" value="([^"]*)"')


@pytest.fixture
async def portal(runtime: Runtime) -> Runtime:
    """The demo tenant with one key per algorithm (kids hs, ed, rs)."""
    for key in demo_keys():
        await runtime.storage.save_signing_key(key)
    await runtime.reload_keys()
    return runtime


async def set_policy(runtime: Runtime, policy: str) -> None:
    config = msgspec.structs.replace(DEMO_SERVICE.config, token_policy=policy)
    await runtime.storage.save_service(msgspec.structs.replace(DEMO_SERVICE, config=config))
    await runtime.reload_services()


async def rate(client: httpx.AsyncClient, token: str, stars: int = 4) -> httpx.Response:
    """Open the portal's link, then send the form as a browser would."""
    form = await client.get(SERVICE, params={"t": token})
    assert form.status_code == 200, form.text
    carried = _TRANSACTION.search(form.text)
    assert carried, "the form does not carry the transaction token"
    fields = {"token": form_token(form.text), "transaction": carried.group(1), "rating": str(stars)}
    return await client.post(SERVICE, data=fields)


async def events(runtime: Runtime) -> list[RatingEvent]:
    entries = await stream_entries(runtime.redis, keys.STREAM)
    return [EVENT_DECODER.decode(fields[b"e"]) for _, fields in entries]


async def rejections(runtime: Runtime) -> dict[str, int]:
    counted = await runtime.rejections.read(["demo-passport"], 1)
    return counted.get("demo-passport", {})


async def test_the_form_carries_the_token_to_the_post(
    portal: Runtime, client: httpx.AsyncClient
) -> None:
    token = sign(claims(office="north", operator="op-7", channel="kiosk"))
    response = await rate(client, token)
    assert response.status_code == 303
    assert response.headers["location"].endswith("channel=web")
    [stored] = await events(portal)
    assert (stored.office, stored.operator, stored.channel) == ("north", "op-7", "kiosk")
    assert stored.transaction.startswith("APP-")


async def test_a_second_rating_of_one_transaction_is_thanked_not_stored(
    portal: Runtime, client: httpx.AsyncClient, flusher: Flusher
) -> None:
    token = sign(claims(case_opened_at=1_790_000_000, case_answered_at=1_790_172_800))
    first = await rate(client, token, stars=5)
    again = await rate(client, token, stars=1)  # a new form, the same transaction
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    [stored] = await events(portal)
    assert stored.rating == 5
    assert (await rejections(portal)).get("duplicate") == 1
    await flusher.run_once()
    path = portal.settings.effective_database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT rating, transaction_ref, answer_seconds FROM ratings"
        ).fetchall()
    assert rows == [(5, stored.transaction, 172_800)]
    figures = await portal.storage.summary("demo-passport", None, None)
    assert (figures.answered, figures.answer_seconds_sum) == (1, 172_800)


async def test_every_algorithm_rates(portal: Runtime, client: httpx.AsyncClient) -> None:
    for kid, algorithm in (("hs", "HS256"), ("ed", "EdDSA"), ("rs", "RS256")):
        assert (await rate(client, sign(claims(), kid, algorithm))).status_code == 303
    assert len(await events(portal)) == 3


# Tokens below are signed at collection: margins of hours, as the suite runs for minutes.
NOW = int(time.time())


@pytest.mark.parametrize(
    ("token", "reason", "text"),
    [
        (sign(claims(), kid="nobody"), "token_unknown_key", "This rating link is not valid"),
        (sign(claims(iss="dem")), "token_wrong_issuer", "This rating link is not valid"),
        (sign(claims(svc="permits")), "token_wrong_service", "This rating link is not valid"),
        (sign(claims(aud="x")), "token_wrong_audience", "This rating link is not valid"),
        (sign(claims(exp=NOW - 120, iat=NOW - 999)), "token_expired", "link has expired"),
        (sign(claims(nbf=NOW + 3 * 3600)), "token_not_yet_valid", "This rating link is not valid"),
        ("eyJhbGciOiJub25lIn0.eyJ0eG4iOiIxIn0.", "token_malformed", "not valid"),
    ],
)
async def test_a_refused_token_gets_a_page_and_a_count(
    portal: Runtime, client: httpx.AsyncClient, token: str, reason: str, text: str
) -> None:
    response = await client.get(SERVICE, params={"t": token})
    assert response.status_code == 403
    assert text in response.text
    assert "<form" not in response.text
    assert "frame-ancestors *" in response.headers["content-security-policy"]
    assert await rejections(portal) == {reason: 1}
    assert await events(portal) == []


async def test_refusals_are_in_the_citizens_language(
    portal: Runtime, client: httpx.AsyncClient
) -> None:
    response = await client.get(SERVICE, params={"t": "junk", "lang": "ru"})
    assert response.status_code == 403
    assert "Ссылка для оценки недействительна" in response.text


async def test_a_token_changed_in_the_form_is_refused(
    portal: Runtime, client: httpx.AsyncClient
) -> None:
    form = await client.get(SERVICE, params={"t": sign(claims())})
    other = sign(claims(), kid="hs")[:-3] + "abc"
    fields = {"token": form_token(form.text), "transaction": other, "rating": "5"}
    response = await client.post(SERVICE, data=fields)
    assert response.status_code == 403
    assert "This rating link is not valid" in response.text
    assert await events(portal) == []
    assert await rejections(portal) == {"token_bad_signature": 1}


async def test_required_policy_shows_no_form_without_a_token(
    portal: Runtime, client: httpx.AsyncClient
) -> None:
    await set_policy(portal, "required")
    page = await client.get(SERVICE)
    assert page.status_code == 403
    assert (
        "Rate from the service&#39;s page" in page.text
        or "Rate from the service's page" in page.text
    )
    assert "<form" not in page.text
    # A form posted without the token (made from another page) is refused too.
    blank = await client.get(SERVICE, params={"t": sign(claims())})
    fields = {"token": form_token(blank.text), "rating": "5"}
    assert (await client.post(SERVICE, data=fields)).status_code == 403
    assert await events(portal) == []
    assert await rejections(portal) == {"token_missing": 2}
    assert (await rate(client, sign(claims()))).status_code == 303


async def test_policy_off_ignores_the_token(portal: Runtime, client: httpx.AsyncClient) -> None:
    await set_policy(portal, "off")
    form = await client.get(SERVICE, params={"t": "anything at all"})
    assert form.status_code == 200
    assert 'name="transaction" value=""' in form.text
    fields = {"token": form_token(form.text), "rating": "5", "transaction": sign(claims())}
    assert (await client.post(SERVICE, data=fields)).status_code == 303
    assert [event.transaction for event in await events(portal)] == [""]


async def test_a_revoked_key_fails_at_once(portal: Runtime, client: httpx.AsyncClient) -> None:
    token = sign(claims())
    form = await client.get(SERVICE, params={"t": token})
    admin = portal.analyst_tokens.issue("demo", role="admin")
    revoked = await client.post(
        "/api/v1/admin/keys/hs/revoke", headers={"authorization": f"Bearer {admin}"}
    )
    assert revoked.status_code == 200, revoked.text
    fields = {"token": form_token(form.text), "transaction": token, "rating": "5"}
    response = await client.post(SERVICE, data=fields)
    assert response.status_code == 403
    assert await events(portal) == []
    assert await rejections(portal) == {"token_revoked_key": 1}
    # The other keys still work.
    assert (await rate(client, sign(claims(), "ed", "EdDSA"))).status_code == 303


async def test_unknown_services_are_counted_apart(
    portal: Runtime, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/w/no-such-service")).status_code == 404
    counted = await portal.rejections.read([UNKNOWN_SERVICE, "no-such-service"], 1)
    assert counted == {UNKNOWN_SERVICE: {"not_found": 1}}
