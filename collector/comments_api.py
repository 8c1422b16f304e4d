"""Comments, exports and recurring problems: the analytics that read raw ratings.

Comments come a page at a time with an opaque cursor; exports stream every matching
rating as CSV or NDJSON without holding them in memory. Neither shows the client hash.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated, Literal

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from collector.analyst_scope import AnalystScope, Period, parse_period
from collector.analytics_api import FromDay, ToDay
from collector.analytics_messages import (
    Comment,
    CommentsPage,
    RecurringProblems,
    RecurringTermBody,
)
from collector.errors import BadRequest
from collector.local_days import iso_utc
from collector.recurring_terms import recurring_terms
from collector.runtime import Runtime
from collector.services import Service
from collector.spreadsheet import safe_cell
from collector.storage.base import CommentQuery, RatingRow

_EXPORT_PAGE = 2_000
# Problems are read from the newest low-star comments; enough for stable terms, bounded
# so that a huge service answers in well under a second.
_PROBLEM_COMMENTS = 5_000
_CURSOR_DECODER = msgspec.json.Decoder(tuple[Literal["newest", "lowest"], int, int, str])
_CURSOR_ENCODER = msgspec.json.Encoder()
EXPORT_COLUMNS = (
    "id",
    "service",
    "received_at",
    "rating",
    "comment",
    "language",
    "channel",
    "device_class",
    "os_family",
    "browser_family",
    "is_bot",
    "office",
    "operator",
    "transaction_ref",
    "answer_seconds",
    "answers",
)


def encode_cursor(order: str, row: RatingRow) -> str:
    raw = _CURSOR_ENCODER.encode((order, row.rating, row.received_at, row.id))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> tuple[int, int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_order, rating, received_at, last_id = _CURSOR_DECODER.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise BadRequest("'cursor' is not one this API gave", field="cursor") from None
    if not (1 <= rating <= 5 and 0 <= received_at < 2**63 and _plain(last_id, 64)):
        raise BadRequest("'cursor' is not one this API gave", field="cursor")
    if cursor_order != order:
        raise BadRequest(f"'cursor' belongs to order={cursor_order}", field="cursor")
    return rating, received_at, last_id


def _plain(text: str, longest: int) -> bool:
    """Text a database takes as a parameter: PostgreSQL refuses NUL in any text."""
    return len(text) <= longest and "\x00" not in text


def _services(scope: AnalystScope, named: list[str] | None) -> list[Service]:
    if named:
        return [scope.service(slug) for slug in dict.fromkeys(named)]
    return scope.services()


def _period_bounds(
    scope: AnalystScope, service: Service, period: Period
) -> tuple[int | None, int | None]:
    return period.received_bounds(scope.time_zone(service.tenant_id))


ServiceFilter = Annotated[
    list[str] | None,
    QueryParameter(description="service slugs (repeat the parameter); default: all of yours"),
]


@get("/api/v1/comments", summary="Comments, filtered, a page at a time")
async def list_comments(
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    service: ServiceFilter = None,
    period_from: FromDay = None,
    period_to: ToDay = None,
    minimum_rating: Annotated[int, QueryParameter(ge=1, le=5)] = 1,
    maximum_rating: Annotated[int, QueryParameter(ge=1, le=5)] = 5,
    language: Annotated[str | None, QueryParameter(max_length=8)] = None,
    text: Annotated[
        str | None, QueryParameter(name="q", max_length=200, description="words to find")
    ] = None,
    order: Annotated[
        Literal["newest", "lowest"],
        QueryParameter(description="newest first, or lowest rating first (then newest)"),
    ] = "newest",
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
) -> CommentsPage:
    """Days are the tenant's local days; bots' ratings are included and flagged in
    exports only, never here."""
    scope = AnalystScope.from_header(runtime, request.headers.get("authorization"))
    services = _services(scope, service)
    if minimum_rating > maximum_rating:
        raise BadRequest("'minimum_rating' is above 'maximum_rating'", field="minimum_rating")
    for name, value in (("q", text), ("language", language)):
        if value is not None and not _plain(value, 200):
            raise BadRequest(f"{name!r} must not contain a NUL character", field=name)
    period = parse_period(period_from, period_to)
    # One tenant's services share a zone; a platform token's mix uses the first one's.
    received_from, received_before = (
        _period_bounds(scope, services[0], period) if services else (None, None)
    )
    query = CommentQuery(
        services=tuple(s.slug for s in services),
        received_from=received_from,
        received_before=received_before,
        minimum_rating=minimum_rating,
        maximum_rating=maximum_rating,
        language=language or None,
        text=text.strip() or None if text else None,
        lowest_first=order == "lowest",
        after=decode_cursor(cursor, order) if cursor else None,
        limit=limit + 1,  # one more tells whether a next page exists
        include_bots=False,
    )
    rows = await runtime.storage.comments(query)
    page, more = rows[:limit], len(rows) > limit
    return CommentsPage(
        comments=[
            Comment(
                id=row.id,
                service=row.service,
                rating=row.rating,
                comment=row.comment,
                language=row.language,
                channel=row.channel,
                received_at=iso_utc(row.received_at),
                device_class=row.device_class,
                office=row.office,
                operator=row.operator,
            )
            for row in page
        ],
        next=encode_cursor(order, page[-1]) if more and page else None,
    )


def _export_values(row: RatingRow) -> list[object]:
    return [
        row.id,
        row.service,
        iso_utc(row.received_at),
        row.rating,
        safe_cell(row.comment),
        safe_cell(row.language),
        safe_cell(row.channel),
        safe_cell(row.device_class),
        safe_cell(row.os_family),
        safe_cell(row.browser_family),
        int(row.is_bot),
        safe_cell(row.office),
        safe_cell(row.operator),
        safe_cell(row.transaction_ref or ""),
        "" if row.answer_seconds is None else row.answer_seconds,
        safe_cell(row.answers),
    ]


class _ExportRecord(msgspec.Struct, frozen=True):
    id: str
    service: str
    received_at: str
    rating: int
    comment: str
    language: str
    channel: str
    device_class: str
    os_family: str
    browser_family: str
    is_bot: bool
    office: str
    operator: str
    transaction_ref: str | None
    answer_seconds: int | None
    answers: msgspec.Raw


_NDJSON_ENCODER = msgspec.json.Encoder()


def _ndjson_line(row: RatingRow) -> bytes:
    record = _ExportRecord(
        id=row.id,
        service=row.service,
        received_at=iso_utc(row.received_at),
        rating=row.rating,
        comment=row.comment,
        language=row.language,
        channel=row.channel,
        device_class=row.device_class,
        os_family=row.os_family,
        browser_family=row.browser_family,
        is_bot=row.is_bot,
        office=row.office,
        operator=row.operator,
        transaction_ref=row.transaction_ref,
        answer_seconds=row.answer_seconds,
        answers=msgspec.Raw(row.answers.encode()),
    )
    return _NDJSON_ENCODER.encode(record) + b"\n"


async def _export_rows(
    runtime: Runtime, scope: AnalystScope, services: list[Service], period: Period
) -> AsyncIterator[RatingRow]:
    """Every rating of the services in the period, service by service, newest first:
    keyset pages, so memory stays flat however many there are."""
    for service in services:
        received_from, received_before = _period_bounds(scope, service, period)
        query = CommentQuery(
            services=(service.slug,),
            received_from=received_from,
            received_before=received_before,
            limit=_EXPORT_PAGE,
            with_comment=False,
        )
        while True:
            rows = await runtime.storage.comments(query)
            for row in rows:
                yield row
            if len(rows) < _EXPORT_PAGE:
                break
            last = rows[-1]
            query = replace(query, after=(last.rating, last.received_at, last.id))


async def _csv_chunks(rows: AsyncIterator[RatingRow]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    # A byte-order mark, so spreadsheet programs read the Cyrillic and Armenian as UTF-8.
    buffer.write("\ufeff")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    async for row in rows:
        writer.writerow(_export_values(row))
        count += 1
        if count % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def _ndjson_chunks(rows: AsyncIterator[RatingRow]) -> AsyncIterator[bytes]:
    chunk = bytearray()
    async for row in rows:
        chunk += _ndjson_line(row)
        if len(chunk) > 64 * 1024:
            yield bytes(chunk)
            chunk.clear()
    yield bytes(chunk)


@get("/api/v1/exports/ratings", summary="Every rating, as CSV or NDJSON")
async def export_ratings(
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    export_format: Annotated[
        Literal["csv", "ndjson"], QueryParameter(name="format", description="csv or ndjson")
    ] = "csv",
    service: ServiceFilter = None,
    period_from: FromDay = None,
    period_to: ToDay = None,
) -> Stream:
    """Streamed; bots' ratings included and flagged (is_bot). CSV cells that a
    spreadsheet would run as a formula start with an apostrophe."""
    scope = AnalystScope.from_header(runtime, request.headers.get("authorization"))
    services = _services(scope, service)
    period = parse_period(period_from, period_to)
    rows = _export_rows(runtime, scope, services, period)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    if export_format == "csv":
        body, media_type = _csv_chunks(rows), "text/csv"
    else:
        body, media_type = _ndjson_chunks(rows), "application/x-ndjson"
    return Stream(
        body,
        media_type=media_type,
        headers={
            "content-disposition": f'attachment; filename="ratings-{stamp}.{export_format}"',
            "cache-control": "no-store",
        },
    )


@get(
    "/api/v1/services/{service:str}/problems",
    summary="Recurring terms in 1 and 2 star comments, per language",
)
async def recurring_problems(
    service: FromPath[str],
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    period_from: FromDay = None,
    period_to: ToDay = None,
    limit: Annotated[int, QueryParameter(ge=1, le=50)] = 15,
) -> RecurringProblems:
    """Terms and two-word phrases most often written in low ratings' comments, stop
    words left out, word forms grouped; from the newest 5,000 such comments."""
    scope = AnalystScope.from_header(runtime, request.headers.get("authorization"))
    record = scope.service(service)
    period = parse_period(period_from, period_to)
    received_from, received_before = _period_bounds(scope, record, period)
    rows = await runtime.storage.comments(
        CommentQuery(
            services=(service,),
            received_from=received_from,
            received_before=received_before,
            maximum_rating=2,
            limit=_PROBLEM_COMMENTS,
            include_bots=False,
        )
    )
    found = recurring_terms(((row.language, row.comment) for row in rows), limit=limit)
    return RecurringProblems(
        service=service,
        period_from=period.first_text,
        period_to=period.last_text,
        comments_analysed=len(rows),
        languages={
            language: [
                RecurringTermBody(term.term, term.comments, term.share, list(term.examples))
                for term in terms
            ]
            for language, terms in found.items()
        },
    )


ROUTES = [list_comments, export_ratings, recurring_problems]
