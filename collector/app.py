"""The ASGI application: the widget's hot path in front, Litestar for everything else."""

from __future__ import annotations

import logging

from litestar import Litestar, MediaType, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.types import ASGIApp, Receive, Scope, Send

from collector import (
    __version__,
    admin_api,
    analytics_api,
    api_schema,
    comments_api,
    dashboard,
    erasure_api,
    health,
    open_data,
)
from collector.api_guards import MAXIMUM_BODY_BYTES, authenticate_first
from collector.errors import CollectorError
from collector.header_limits import header_problem, refuse_oversized
from collector.impression_counter import ImpressionCounter
from collector.messages import ErrorBody
from collector.rejections import UNKNOWN_SERVICE
from collector.runtime import Runtime
from collector.security_headers import add_security_headers
from collector.widget import WidgetApp

logger = logging.getLogger(__name__)

_WIDGET_PREFIX = "/w/"


def _error_response(status: int, detail: str, field: str | None = None) -> Response[ErrorBody]:
    error = HTTPStatusNames.get(status, "error")
    return Response(
        ErrorBody(status=status, error=error, detail=detail, field=field),
        status_code=status,
        media_type=MediaType.JSON,
    )


HTTPStatusNames = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


def _collector_error(_: Request, error: CollectorError) -> Response[ErrorBody]:  # type: ignore[type-arg]
    response = _error_response(error.status_code, error.detail, error.field)
    if error.status_code == 401:
        response.headers["www-authenticate"] = 'Bearer realm="civic-feedback"'
    return response


def _http_error(_: Request, error: HTTPException) -> Response[ErrorBody]:  # type: ignore[type-arg]
    detail = error.detail
    extra = getattr(error, "extra", None)
    if isinstance(extra, list) and extra:
        detail = (
            "; ".join(
                f"{item.get('key', '?')}: {item.get('message', '')}"
                for item in extra
                if isinstance(item, dict)
            )
            or detail
        )
    response = _error_response(error.status_code, detail)
    if error.headers:  # a 405's Allow, which RFC 9110 requires
        response.headers.update(error.headers)
    return response


def _unexpected_error(_: Request, error: Exception) -> Response[ErrorBody]:  # type: ignore[type-arg]
    logger.exception("unexpected error in the API", exc_info=error)
    return _error_response(500, "internal error; it has been logged")


def create_litestar(runtime: Runtime) -> Litestar:
    return Litestar(
        route_handlers=[
            *health.ROUTES,
            *analytics_api.ROUTES,
            *comments_api.ROUTES,
            *admin_api.ROUTES,
            *erasure_api.ROUTES,
            *dashboard.ROUTES,
            *open_data.ROUTES,
        ],
        dependencies={"runtime": Provide(lambda: runtime, sync_to_thread=False)},
        # For the guard, which runs before dependencies are resolved.
        state=State({"runtime": runtime}),
        guards=[authenticate_first],
        request_max_body_size=MAXIMUM_BODY_BYTES,
        exception_handlers={
            CollectorError: _collector_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        # The document only, at /schema too: the HTML viewers load their scripts from
        # CDNs, which our strict CSP (and the no-third-party-requests promise) forbids.
        openapi_config=OpenAPIConfig(
            title="civic-feedback",
            version=__version__,
            render_plugins=[JsonRenderPlugin(), YamlRenderPlugin()],
            components=api_schema.COMPONENTS,
        ),
        plugins=[api_schema.ApiSchema()],
        before_send=[add_security_headers],
        logging_config=None,  # the CLI configures logging once, for every library
        debug=False,
    )


def create_widget(runtime: Runtime, impressions: ImpressionCounter | None = None) -> WidgetApp:
    """The widget's hot path, counting views with the runtime's counter unless told."""
    return WidgetApp(
        services=runtime.services,
        pages=runtime.pages,
        signer=runtime.signer,
        hasher=runtime.hasher,
        buffer=runtime.buffer,
        public_url=runtime.settings.effective_public_url,
        transactions=runtime.transactions,
        rejections=runtime.rejections,
        proxies=runtime.proxies,
        impressions=impressions or runtime.impressions,
        spool=runtime.spool,
        clock=runtime.clock,
        minimum_fill_seconds=runtime.settings.minimum_fill_seconds,
        body_timeout_seconds=runtime.settings.body_timeout_seconds,
    )


def create_app(runtime: Runtime) -> ASGIApp:
    """The collector's ASGI app: /w/... goes straight to the widget, the rest to Litestar."""
    litestar = create_litestar(runtime)
    widget = create_widget(runtime)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            problem = header_problem(scope["headers"])
            if problem is not None:
                await runtime.rejections.count(UNKNOWN_SERVICE, "headers_too_large")
                await refuse_oversized(send, problem)
                return
            if scope["path"].startswith(_WIDGET_PREFIX):
                await widget(scope, receive, send)
                return
        await litestar(scope, receive, send)

    return app
