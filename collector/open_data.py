"""Open data: monthly figures of the services that opted in, for anyone.

`GET /open/{service}` is a page for citizens and journalists; `/open/{service}.json` and
`/open/{service}.csv` carry the same cells. No authentication: a service that does not
exist and one that has not opted in (`ServiceConfig.open_data`) get the same 404.
Months are complete calendar months of the tenant's time zone: the 24 before the
current one, or `?from=YYYY-MM&to=YYYY-MM` (at most 60). The current month is never
published: two fetches a rating apart would show exactly what that rating was.

Suppression, with N the service's `open_data_minimum_count` (default 10):

1. A month with fewer than N ratings publishes no figure, only that it had fewer than N.
2. A month with N ratings or more publishes its count. Its five star counts, mean stars
   and CSAT (share of 4 and 5 stars) are published only when every star count is N or
   more (zero counts as below); otherwise the month shows its count alone.

Rule 2 withholds all or nothing because any partial withholding leaks: the total minus
the shown counts gives the sum of the hidden ones, which pins them down when it is 0,
or (with N = 10) 18 over two cells of at most 9 each; and the exact mean then gives two
hidden counts from two equations.

Cells are whole months only, so no choice of `from` and `to` yields two overlapping
totals whose difference is a small cell.
Closed-question answers are left out: the monthly series has none, and each answer
count would need suppression of its own.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import jinja2
import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter, QueryParameter
from litestar.types import ControllerRouterHandler

from collector.analyst_scope import month_number, month_start
from collector.errors import BadRequest, CollectorError, NotFound
from collector.figures import csat, mean_stars, rounded
from collector.local_days import today
from collector.messages import ErrorBody
from collector.runtime import Runtime
from collector.services import Service, Tenant
from collector.spreadsheet import safe_cell
from collector.storage.base import SummaryFigures

DEFAULT_MONTHS = 24
MAXIMUM_MONTHS = 60
# Ratings carry milliseconds since 1970: no month before it can hold one.
FIRST_YEAR = 1970
# Monthly figures an hour old are as good as fresh ones, and proxies may then answer a
# popular link without asking storage.
CACHE_CONTROL = "public, max-age=3600"
_DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_MONTH_NAMES: tuple[str, ...] = ("January", "February", "March", "April", "May", "June", "July")
_MONTH_NAMES += ("August", "September", "October", "November", "December")
_STAR_NAMES = ("one", "two", "three", "four", "five")
_ENCODER = msgspec.json.Encoder()
_CSV_HEADER = ("service", "service_name", "agency", "month", "published", "count", "mean", "csat")


class OpenStarCounts(msgspec.Struct, frozen=True):
    """Ratings per number of stars; null where withheld."""

    one: int | None
    two: int | None
    three: int | None
    four: int | None
    five: int | None


class OpenMonth(msgspec.Struct, frozen=True, kw_only=True):
    """One calendar month; every figure null when it had fewer than minimum_count ratings."""

    month: Annotated[str, msgspec.Meta(description="YYYY-MM, in the tenant's time zone")]
    published: bool
    count: int | None
    mean: Annotated[float, msgspec.Meta(description="mean stars, 1 to 5")] | None
    csat: Annotated[float, msgspec.Meta(description="share of 4 and 5 stars, 0 to 1")] | None
    stars: OpenStarCounts


class Suppression(msgspec.Struct, frozen=True, kw_only=True):
    """How small counts are withheld."""

    minimum_count: int
    rule: str


class OpenData(msgspec.Struct, frozen=True, kw_only=True):
    """GET /open/{service}.json: a service's monthly figures, small counts withheld."""

    service: str
    service_name: str
    tenant: str
    agency: Annotated[str, msgspec.Meta(description="the delivering agency, or the tenant")]
    time_zone: str
    minimum_count: int
    generated_at: str
    period_from: Annotated[str, msgspec.Meta(description="first month, YYYY-MM")]
    period_to: Annotated[str, msgspec.Meta(description="last month, YYYY-MM")]
    suppression: Suppression
    months: list[OpenMonth]


def suppression_rule(minimum_count: int | str) -> str:
    return (
        f"Months with fewer than {minimum_count} ratings publish no figures. The other "
        "months publish their count, and their star counts, mean and CSAT only when every "
        f"star count is at least {minimum_count}: withholding some star counts and not "
        "others would let them be worked out from the total and the mean. The current "
        "month is never published."
    )


def withheld_stars(
    stars: tuple[int, int, int, int, int], minimum_count: int
) -> tuple[int | None, ...]:
    """Star counts with rule 2 of the module docstring applied (None: withheld)."""
    if min(stars) < minimum_count:
        return (None, None, None, None, None)
    return stars


def open_month(month: str, figures: SummaryFigures | None, minimum_count: int) -> OpenMonth:
    if figures is None or figures.count < minimum_count:
        return OpenMonth(
            month=month,
            published=False,
            count=None,
            mean=None,
            csat=None,
            stars=OpenStarCounts(None, None, None, None, None),
        )
    stars = withheld_stars(figures.stars, minimum_count)
    complete = None not in stars
    return OpenMonth(
        month=month,
        published=True,
        count=figures.count,
        mean=rounded(mean_stars(figures)) if complete else None,
        csat=rounded(csat(figures)) if complete else None,
        stars=OpenStarCounts(*stars),
    )


def month_text(month: int) -> str:
    """A month number (year * 12 + month - 1) -> YYYY-MM."""
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def _month_label(text: str) -> str:
    """YYYY-MM -> "March 2026"; English, whatever the server's locale."""
    return f"{_MONTH_NAMES[int(text[5:7]) - 1]} {text[:4]}"


def _parse_month(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    match = _MONTH.fullmatch(value)
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < FIRST_YEAR:
        raise BadRequest(
            f"{name!r} must be a month as YYYY-MM from {FIRST_YEAR} on, not {value[:40]!r}",
            field=name,
        )
    return int(match[1]) * 12 + int(match[2]) - 1


def month_range(period_from: str | None, period_to: str | None, local_today: date) -> range:
    """The months asked for; `to` defaults to the last complete month, `from` to 23
    before it."""
    current = month_number(local_today)
    first, last = _parse_month(period_from, "from"), _parse_month(period_to, "to")
    last = current - 1 if last is None else last
    first = last - DEFAULT_MONTHS + 1 if first is None else first
    if last >= current:
        raise BadRequest(f"'to' must be a complete month, before {month_text(current)}", field="to")
    if first > last:
        raise BadRequest("'from' is after 'to'", field="from")
    if last - first >= MAXIMUM_MONTHS:
        raise BadRequest(f"at most {MAXIMUM_MONTHS} months at a time", field="from")
    return range(first, last + 1)


def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


async def monthly_figures(
    runtime: Runtime, service: Service, tenant: Tenant, months: range
) -> OpenData:
    """The figures of the months, from one query of the monthly rollups."""
    minimum = service.config.open_data_minimum_count
    series = await runtime.storage.time_series(
        service.slug,
        month_start(months.start),
        month_start(months.stop) - timedelta(days=1),
        "month",
    )
    by_month = {point.key[:7]: point.figures for point in series}
    return OpenData(
        service=service.slug,
        service_name=service.name,
        tenant=tenant.name,
        agency=service.config.agency or tenant.name,
        time_zone=tenant.time_zone,
        minimum_count=minimum,
        generated_at=_iso_now(),
        period_from=month_text(months.start),
        period_to=month_text(months[-1]),
        suppression=Suppression(minimum_count=minimum, rule=suppression_rule(minimum)),
        months=[open_month(text, by_month.get(text), minimum) for text in map(month_text, months)],
    )


def open_data_csv(data: OpenData) -> str:
    """One row per month: the JSON's cells. An unpublished month's count reads "<N";
    withheld figures of a published month are empty, as they are null in the JSON."""
    withheld = f"<{data.minimum_count}"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*_CSV_HEADER, *_STAR_NAMES])
    names = [
        safe_cell(data.service),
        safe_cell(data.service_name),
        safe_cell(data.agency),
    ]
    for month in data.months:
        stars = [getattr(month.stars, name) for name in _STAR_NAMES]
        figures: list[object] = (
            [month.count, month.mean, month.csat, *("" if s is None else s for s in stars)]
            if month.published
            else [withheld, "", "", "", "", "", "", ""]
        )
        writer.writerow([*names, month.month, "true" if month.published else "false", *figures])
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class _Row:
    month: str
    label: str
    published: bool
    count: str
    mean: str
    csat: str
    stars: tuple[str, ...]


_TEMPLATES = Path(__file__).with_name("open_data_templates")
_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    auto_reload=False,
    trim_blocks=True,
    lstrip_blocks=True,
)
_CSS = (_TEMPLATES / "open_data.css").read_text(encoding="utf-8").strip()
# No script at all; the one inline stylesheet is allowed by its hash.
PAGE_POLICY = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()}'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def open_data_page(data: OpenData) -> str:
    withheld = f"<{data.minimum_count}"
    rows = []
    for month in data.months:
        stars = tuple(
            withheld if count is None else str(count)
            for count in (getattr(month.stars, name) for name in _STAR_NAMES)
        )
        rows.append(
            _Row(
                month=month.month,
                label=_month_label(month.month),
                published=month.published,
                count=str(month.count),
                mean=f"{month.mean:.2f}" if month.mean is not None else "",
                csat=f"{month.csat:.1%}" if month.csat is not None else "",
                stars=stars,
            )
        )
    return _ENVIRONMENT.get_template("figures.html").render(
        title=f"{data.service_name}: ratings by month",
        css=_CSS,
        data=data,
        rows=rows,
        first=rows[0].label,
        last=rows[-1].label,
        generated=data.generated_at.replace("T", " ").replace("Z", " UTC"),
        withheld=withheld,
        star_headers=("1 star", "2 stars", "3 stars", "4 stars", "5 stars"),
    )


def _page_response(body: str, status: int, headers: dict[str, str]) -> Response[bytes]:
    return Response(
        body.encode(),
        status_code=status,
        media_type="text/html",
        headers={"content-security-policy": PAGE_POLICY, **headers},
    )


def _error_page(error: CollectorError) -> Response[bytes]:
    if isinstance(error, NotFound):
        title, text = "Not found", "There are no open figures at this address."
    else:
        title, text = "Bad request", error.detail
    body = _ENVIRONMENT.get_template("message.html").render(title=title, text=text, css=_CSS)
    return _page_response(body, error.status_code, {})


def _published_service(runtime: Runtime, slug: str) -> tuple[Service, Tenant]:
    service = runtime.services.get(slug)
    # A service that has not opted in answers exactly like a missing one.
    if service is None or not service.config.open_data:
        raise NotFound(f"no open data for service {slug[:64]!r}", field="service")
    tenant = runtime.tenants.get(service.tenant_id) or Tenant(service.tenant_id, "")
    return service, tenant


_DESCRIPTION = (
    "`/open/{service}` is an HTML page, `/open/{service}.json` the figures as below, "
    "`/open/{service}.csv` the same cells as CSV. " + suppression_rule("N")
)


@get(
    "/open/{service:str}",
    summary="A service's open monthly figures",
    description=_DESCRIPTION,
    responses={
        200: ResponseSpec(OpenData, generate_examples=False, description="the figures (for .json)"),
        400: ResponseSpec(ErrorBody, generate_examples=False, description="a bad month"),
        404: ResponseSpec(ErrorBody, generate_examples=False, description="no open data"),
    },
)
async def open_figures(
    service: Annotated[
        str, PathParameter(description="the service's slug, with .json or .csv for data")
    ],
    runtime: NamedDependency[Runtime],
    period_from: Annotated[
        str | None, QueryParameter(name="from", description="first month, YYYY-MM")
    ] = None,
    period_to: Annotated[
        str | None, QueryParameter(name="to", description="last month, YYYY-MM")
    ] = None,
) -> Response[bytes]:
    """Monthly figures of a service that opted in to open data."""
    kind = next((suffix for suffix in (".json", ".csv") if service.endswith(suffix)), "")
    try:
        record, tenant = _published_service(runtime, service.removesuffix(kind))
        months = month_range(period_from, period_to, today(tenant.time_zone))
    except CollectorError as error:
        if kind == ".json":
            raise
        return _error_page(error)
    data = await monthly_figures(runtime, record, tenant, months)
    data_headers = {
        "cache-control": CACHE_CONTROL,
        "content-security-policy": _DATA_POLICY,
        # Open data: any site may fetch it; there are no credentials to leak.
        "access-control-allow-origin": "*",
    }
    if kind == ".json":
        return Response(_ENCODER.encode(data), media_type="application/json", headers=data_headers)
    if kind == ".csv":
        return Response(
            open_data_csv(data).encode(),
            media_type="text/csv",
            headers={
                **data_headers,
                "content-disposition": f'attachment; filename="{record.slug}.csv"',
            },
        )
    return _page_response(open_data_page(data), 200, {"cache-control": CACHE_CONTROL})


ROUTES: list[ControllerRouterHandler] = [open_figures]
