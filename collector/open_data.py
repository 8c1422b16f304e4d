"""Open data: monthly figures of the services that opted in, for anyone.

`GET /open/{service}` is a page for citizens and journalists; `/open/{service}.json` and
`/open/{service}.csv` carry the same cells. No authentication: a service that does not
exist and one that has not opted in (`ServiceConfig.open_data`) get the same 404.
Months are complete calendar months of the tenant's time zone: the 24 before the
current one, or `?from=YYYY-MM&to=YYYY-MM` (at most 60). The current month is never
published: two fetches a rating apart would show exactly what that rating was.

What a month publishes, and what it withholds, is decided in collector/open_figures.py.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import jinja2
import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter, QueryParameter
from litestar.types import ControllerRouterHandler

from collector.errors import CollectorError, NotFound
from collector.local_days import today
from collector.messages import ErrorBody
from collector.open_figures import (
    STAR_NAMES,
    OpenData,
    month_range,
    monthly_figures,
    suppression_rule,
)
from collector.runtime import Runtime
from collector.services import Service, Tenant
from collector.spreadsheet import safe_cell

# Monthly figures an hour old are as good as fresh ones, and proxies may then answer a
# popular link without asking storage.
CACHE_CONTROL = "public, max-age=3600"
_DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
_MONTH_NAMES: tuple[str, ...] = ("January", "February", "March", "April", "May", "June", "July")
_MONTH_NAMES += ("August", "September", "October", "November", "December")
_ENCODER = msgspec.json.Encoder()
_CSV_HEADER = ("service", "service_name", "agency", "month", "published", "count", "mean", "csat")


def _month_label(text: str) -> str:
    """YYYY-MM -> "March 2026"; English, whatever the server's locale."""
    return f"{_MONTH_NAMES[int(text[5:7]) - 1]} {text[:4]}"


def open_data_csv(data: OpenData) -> str:
    """One row per month: the JSON's cells. An unpublished month's count reads "<N";
    withheld figures of a published month are empty, as they are null in the JSON."""
    withheld = f"<{data.minimum_count}"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*_CSV_HEADER, *STAR_NAMES])
    names = [
        safe_cell(data.service),
        safe_cell(data.service_name),
        safe_cell(data.agency),
    ]
    for month in data.months:
        stars = [getattr(month.stars, name) for name in STAR_NAMES]
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
            for count in (getattr(month.stars, name) for name in STAR_NAMES)
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
        months = month_range(period_from, period_to, today(tenant.time_zone, runtime.clock()))
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
