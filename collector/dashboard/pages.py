"""The dashboard's routes: overview, service page, sign-in and sign-out.

Every page is HTML that works with JavaScript off; errors are pages too (a 400 naming
the field, a 404 for another tenant's service), never the API's JSON.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, QueryParameter

from collector.analyst_scope import AnalystScope
from collector.dashboard import renderer, session
from collector.dashboard.overview_report import SCORE, overview_report
from collector.dashboard.periods import ReportPeriod, choose_period, presets
from collector.dashboard.service_report import service_report
from collector.errors import CollectorError, Forbidden, NotFound, Unauthorized
from collector.rankings import SCORE_EXPLAINED
from collector.runtime import Runtime

logger = logging.getLogger(__name__)

HOME = "/dashboard"
SIGN_IN = "/dashboard/sign-in"
_From = Annotated[str | None, QueryParameter(name="from")]
_To = Annotated[str | None, QueryParameter(name="to")]
_TITLES = {
    400: "This period cannot be shown",
    401: "Sign-in refused",
    403: "Not allowed",
    404: "Not found",
    503: "Try again in a moment",
}


@dataclass(frozen=True, slots=True)
class PeriodLink:
    label: str
    query: str
    current: bool


def _query(period: ReportPeriod, tenant: str = "") -> str:
    fields = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    if tenant:
        fields["tenant"] = tenant
    return urlencode(fields)


def _period_links(
    period: ReportPeriod, time_zone: str, now: float, tenant: str = ""
) -> list[PeriodLink]:
    return [
        PeriodLink(preset.label, _query(preset.period, tenant), preset.period == period)
        for preset in presets(time_zone, now)
    ]


@get("/", name="dashboard-overview")
async def overview(
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    period_from: _From = None,
    period_to: _To = None,
    tenant: FromQuery[str | None] = None,
) -> Response[bytes]:
    """The tenant's headline figures and league table; platform tokens choose a tenant."""
    claims = await session.current_claims(request, runtime)
    scope = AnalystScope(claims, runtime)
    chosen = (tenant or "") if claims.role == "platform" else claims.tenant
    if chosen and chosen not in runtime.tenants:
        raise NotFound(f"no tenant {chosen!r}", field="tenant")
    time_zone = scope.time_zone(chosen) if chosen else scope.home_time_zone
    now = runtime.clock()
    period = choose_period(period_from, period_to, time_zone, now)
    report = await overview_report(scope, chosen, period)
    return renderer.page(
        "overview.html",
        title=report.heading,
        signed_in=claims,
        report=report,
        period=period,
        time_zone=time_zone,
        here=HOME,
        tenant=chosen,
        tenants=report.tenants,
        presets=_period_links(period, time_zone, now, chosen if claims.role == "platform" else ""),
        period_query=_query(period),
        score_explained=SCORE_EXPLAINED[SCORE],
    )


@get("/services/{slug:str}", name="dashboard-service")
async def service_page(
    slug: FromPath[str],
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
    period_from: _From = None,
    period_to: _To = None,
) -> Response[bytes]:
    """One service: trend, stars, response rate, splits, questions, comments."""
    claims = await session.current_claims(request, runtime)
    scope = AnalystScope(claims, runtime)
    service = scope.service(slug)
    time_zone = scope.time_zone(service.tenant_id)
    now = runtime.clock()
    period = choose_period(period_from, period_to, time_zone, now)
    report = await service_report(scope, service, period)
    tenant = service.tenant_id if claims.role == "platform" else ""
    return renderer.page(
        "service.html",
        title=report.name,
        signed_in=claims,
        report=report,
        period=period,
        time_zone=time_zone,
        here=f"{HOME}/services/{slug}",
        tenant="",
        tenants=[],
        presets=_period_links(period, time_zone, now),
        overview_query=_query(period, tenant),
    )


def _next_page(value: object) -> str:
    """Where to go after signing in: a dashboard page of this site, nothing else."""
    if (
        isinstance(value, str)
        and value.startswith(HOME)
        and not value.startswith(SIGN_IN)
        and len(value) <= 2000
        and value.isprintable()
        and "\\" not in value
    ):
        return value
    return HOME


def _sign_in_page(
    problem: str = "", next_page: object = HOME, signed_out: bool = False
) -> Response[bytes]:
    return renderer.page(
        "sign_in.html",
        status=401 if problem else 200,
        title="Sign in",
        signed_in=None,
        problem=problem,
        next=_next_page(next_page),
        signed_out=signed_out,
        link_token="",
    )


@get("/sign-in", name="dashboard-sign-in-form")
async def sign_in_form(
    next_page: Annotated[str | None, QueryParameter(name="next")] = None,
    out: FromQuery[str | None] = None,
) -> Response[bytes]:
    return _sign_in_page(next_page=next_page or HOME, signed_out=out is not None)


def _refuse_cross_site(request: Request, runtime: Runtime) -> None:  # type: ignore[type-arg]
    """Form posts from other sites are refused. Browsers say where a request came from
    in Sec-Fetch-Site; older ones only in Origin, which reads "null" here (the pages
    send no referrer), so only an Origin naming another site is refused."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        if fetch_site not in ("same-origin", "none"):
            raise Forbidden("this form may be sent from the dashboard only")
        return
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin != _origin(runtime.settings.effective_public_url):
        raise Forbidden("this form may be sent from the dashboard only")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@post("/sign-in", name="dashboard-sign-in")
async def sign_in(
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
) -> Response[bytes]:
    """A pasted token: verified, then swapped for a session cookie."""
    _refuse_cross_site(request, runtime)
    form = await request.form()
    token, next_page = form.get("token"), form.get("next")
    try:
        claims = session.verify(runtime, token if isinstance(token, str) else "")
    except Unauthorized as error:
        return _sign_in_page(f"That token was not accepted: {error.detail}.", next_page)
    return renderer.redirect(_next_page(next_page), [session.session_cookie(runtime, claims)])


@get("/sign-in/link", name="dashboard-sign-in-link")
async def sign_in_link_page(token: FromQuery[str] = "") -> Response[bytes]:
    """A link from `collector dashboard-link` shows a button; only pressing it (a
    same-site POST) uses the link. So a chat's link preview does not use it up, and
    another site cannot sign a visitor into someone else's tenant."""
    return renderer.page(
        "sign_in.html",
        title="Sign in",
        signed_in=None,
        problem="",
        next=HOME,
        signed_out=False,
        link_token=token[: session.LONGEST_TOKEN],
    )


@post("/sign-in/link", name="dashboard-sign-in-with-link")
async def sign_in_with_link(
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
) -> Response[bytes]:
    """Redeem the link: it works once, within its minutes."""
    _refuse_cross_site(request, runtime)
    form = await request.form()
    token = form.get("token")
    try:
        claims = await session.redeem_link(runtime, token if isinstance(token, str) else "")
    except Unauthorized as error:
        return _sign_in_page(f"This sign-in link does not work: {error.detail}.")
    return renderer.redirect(HOME, [session.session_cookie(runtime, claims)])


@post("/sign-out", name="dashboard-sign-out")
async def sign_out(
    request: Request,  # type: ignore[type-arg]
    runtime: NamedDependency[Runtime],
) -> Response[bytes]:
    _refuse_cross_site(request, runtime)
    await session.end_session(request, runtime)
    return renderer.redirect(f"{SIGN_IN}?out", [session.cleared_cookie(runtime)])


@get("/{rest:path}", name="dashboard-not-found")
async def not_found(rest: FromPath[str]) -> Response[bytes]:
    """Any other address under /dashboard: a page saying so, not the API's JSON."""
    raise NotFound(f"there is no dashboard page at /dashboard{rest[:100]}")


def _to_sign_in(request: Request, _: session.SignInNeeded) -> Response[bytes]:  # type: ignore[type-arg]
    asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return renderer.redirect(f"{SIGN_IN}?{urlencode({'next': asked})}")


def _message(
    status: int, text: str, back: str = HOME, back_label: str = "Back to the overview"
) -> Response[bytes]:
    return renderer.page(
        "message.html",
        status=status,
        title=_TITLES.get(status, "Something went wrong"),
        signed_in=None,
        text=text[:1].upper() + text[1:] + ("" if text.endswith(".") else "."),
        back=back,
        back_label=back_label,
    )


def _collector_error(request: Request, error: CollectorError) -> Response[bytes]:  # type: ignore[type-arg]
    if error.status_code == 400:
        return _message(400, error.detail, request.url.path, "Show the last 30 days instead")
    return _message(error.status_code, error.detail)


def _http_error(_: Request, error: HTTPException) -> Response[bytes]:  # type: ignore[type-arg]
    return _message(error.status_code, str(error.detail))


def _unexpected_error(_: Request, error: Exception) -> Response[bytes]:  # type: ignore[type-arg]
    logger.exception("unexpected error in the dashboard", exc_info=error)
    return _message(500, "Something went wrong on our side; it has been logged.")


ROUTER = Router(
    path=HOME,
    route_handlers=[
        overview,
        service_page,
        sign_in_form,
        sign_in,
        sign_in_link_page,
        sign_in_with_link,
        sign_out,
        not_found,
    ],
    exception_handlers={
        session.SignInNeeded: _to_sign_in,
        CollectorError: _collector_error,
        HTTPException: _http_error,
        Exception: _unexpected_error,
    },
    include_in_schema=False,
)
