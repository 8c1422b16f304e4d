"""Comments (filters, cursor pages), streamed exports and recurring problems."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

from collector.comments_api import EXPORT_COLUMNS
from collector.runtime import Runtime
from tests.helpers import DAY, DAY_ONE, bearer, stored_rating

HOUR = 3_600_000
COMMENTS = "/api/v1/comments"


@pytest.fixture
def analyst(runtime: Runtime) -> dict[str, str]:
    return bearer(runtime.analyst_tokens.issue("demo"))


async def seed(runtime: Runtime) -> None:
    texts = [
        (5, "en", "Quick and polite"),
        (1, "ru", "Очень долгая очередь"),
        (2, "en", "The queue was long"),
        (1, "en", "Long queue, rude staff"),
        (4, "hy", "Լավ էր"),
        (1, "en", '=HYPERLINK("http://evil")'),
    ]
    await runtime.storage.store(
        [
            stored_rating(
                n, stars, DAY_ONE + n * HOUR, service="demo-passport", language=lang, comment=text
            )
            for n, (stars, lang, text) in enumerate(texts, start=1)
        ]
        + [stored_rating(7, 3, DAY_ONE + 7 * HOUR, service="demo-passport")]  # no comment
    )


async def test_pages_follow_the_cursor_to_the_end(
    client: httpx.AsyncClient, runtime: Runtime, analyst: dict[str, str]
) -> None:
    await seed(runtime)
    seen: list[int] = []
    url = f"{COMMENTS}?limit=4"
    while True:
        body = (await client.get(url, headers=analyst)).json()
        seen += [int(comment["id"][-3:]) for comment in body["comments"]]
        if body["next"] is None:
            break
        url = f"{COMMENTS}?limit=4&cursor={body['next']}"
    assert seen == [6, 5, 4, 3, 2, 1]


async def test_lowest_first_and_filters(
    client: httpx.AsyncClient, runtime: Runtime, analyst: dict[str, str]
) -> None:
    await seed(runtime)

    async def ids(query: str) -> list[int]:
        response = await client.get(f"{COMMENTS}?{query}", headers=analyst)
        assert response.status_code == 200, response.text
        return [int(comment["id"][-3:]) for comment in response.json()["comments"]]

    assert await ids("order=lowest") == [6, 4, 2, 3, 5, 1]
    assert await ids("maximum_rating=2&language=en") == [6, 4, 3]
    assert await ids("q=QUEUE") == [4, 3]
    assert await ids("q=очередь") == [2]
    assert await ids("from=2026-01-02") == []
    assert await ids("to=2026-01-01&minimum_rating=4") == [5, 1]
    first = (await client.get(f"{COMMENTS}?service=demo-passport&limit=1", headers=analyst)).json()
    assert first["comments"][0]["received_at"] == "2026-01-01T06:00:00.000Z"


@pytest.mark.parametrize(
    ("query", "field", "detail"),
    [
        ("cursor=not-a-cursor", "cursor", "'cursor' is not one this API gave"),
        ("minimum_rating=4&maximum_rating=2", "minimum_rating", "'minimum_rating' is above"),
        ("limit=501", None, "limit"),
        ("from=2026-13-01", "from", "'from' must be a date"),
        ("to=9999-12-31", "to", "'to' must be between"),
        ("q=a%00b", "q", "'q' must not contain a NUL character"),
        ("language=e%00", "language", "'language' must not contain a NUL character"),
        # Forged cursors: a time beyond 64 bits, a rating of 9, a NUL in the id.
        ("cursor=WyJuZXdlc3QiLDEsOTIyMzM3MjAzNjg1NDc3NTgwOCwieCJd", "cursor", "not one this"),
        ("cursor=WyJuZXdlc3QiLDksMSwieCJd", "cursor", "not one this API gave"),
        ("cursor=WyJuZXdlc3QiLDEsMSwiXHUwMDAwIl0", "cursor", "not one this API gave"),
    ],
)
async def test_bad_comment_queries(
    client: httpx.AsyncClient, analyst: dict[str, str], query: str, field: str | None, detail: str
) -> None:
    response = await client.get(f"{COMMENTS}?{query}", headers=analyst)
    assert response.status_code == 400
    assert response.json().get("field") == field
    assert detail in response.json()["detail"]


async def test_a_cursor_belongs_to_its_order(
    client: httpx.AsyncClient, runtime: Runtime, analyst: dict[str, str]
) -> None:
    await seed(runtime)
    cursor = (await client.get(f"{COMMENTS}?limit=1", headers=analyst)).json()["next"]
    response = await client.get(f"{COMMENTS}?order=lowest&cursor={cursor}", headers=analyst)
    assert response.status_code == 400
    assert response.json()["detail"] == "'cursor' belongs to order=newest"


async def test_csv_export_streams_every_rating_safely(
    client: httpx.AsyncClient, runtime: Runtime, analyst: dict[str, str]
) -> None:
    await seed(runtime)
    await runtime.storage.store(
        [stored_rating(8, 2, DAY_ONE + DAY, service="demo-passport", is_bot=True)]
    )
    response = await client.get("/api/v1/exports/ratings?format=csv", headers=analyst)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="ratings-')
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    by_id = {int(row[0][-3:]): dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert sorted(by_id) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert by_id[6]["comment"] == '\'=HYPERLINK("http://evil")'
    assert by_id[2]["comment"] == "Очень долгая очередь"
    assert (by_id[8]["is_bot"], by_id[1]["is_bot"]) == ("1", "0")
    assert "client_hash" not in rows[0]
    assert "c" * 24 not in text


async def test_ndjson_export_with_a_period(
    client: httpx.AsyncClient, runtime: Runtime, analyst: dict[str, str]
) -> None:
    await seed(runtime)
    await runtime.storage.store(
        [stored_rating(8, 2, DAY_ONE + DAY, service="demo-passport", answers={"resolved": "no"})]
    )
    response = await client.get(
        "/api/v1/exports/ratings?format=ndjson&from=2026-01-02&to=2026-01-02", headers=analyst
    )
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) == 1
    assert lines[0]["answers"] == {"resolved": "no"}
    assert (lines[0]["rating"], lines[0]["received_at"]) == (2, "2026-01-02T00:00:00.000Z")


async def test_bad_export_format(client: httpx.AsyncClient, analyst: dict[str, str]) -> None:
    response = await client.get("/api/v1/exports/ratings?format=xlsx", headers=analyst)
    assert response.status_code == 400
    assert "format" in response.json()["detail"]


async def test_recurring_problems_come_from_low_ratings(
    client: httpx.AsyncClient, runtime: Runtime, analyst: dict[str, str]
) -> None:
    await seed(runtime)
    response = await client.get("/api/v1/services/demo-passport/problems", headers=analyst)
    assert response.status_code == 200
    body = response.json()
    assert body["comments_analysed"] == 4  # 1 and 2 star comments only
    # "The queue was long" and "Long queue, rude staff": both words twice, the phrase
    # once (under minimum_comments); the 5-star "Quick and polite" never.
    english = [(term["term"], term["comments"]) for term in body["languages"]["en"]]
    assert english == [("long", 2), ("queue", 2)]
