"""What the OpenAPI document says beyond each handler's signature: every API operation
needs a bearer token, and answers its errors with the ErrorBody that the app's
exception handlers send (collector/app.py), not Litestar's own error shape."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute

from collector.messages import ErrorBody

API_PREFIX = "/api/"
COMPONENTS = Components(
    security_schemes={
        "bearer": SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="JWT",
            description="an analyst, admin or platform token (`collector token`)",
        )
    }
)
_ERRORS = {
    400: "a parameter or the body is not valid; `field` names it",
    401: "no token, or one that is not valid",
    403: "the token's role may not do this",
    404: "no such service, tenant or key for this token",
    409: "it exists already",
    503: "Redis or storage did not answer; try again",
}
# Only operations that take a body (collector/api_guards.py, collector/plain_text.py).
_BODY_ERRORS = {
    413: "the body is larger than 64 KB",
    422: "a text holds a control character, is empty or too long; `field` names it",
}
# The methods whose operations take a body: the guard reads and bounds only theirs
# (collector/api_guards.py); a DELETE's body is never read.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _responses(texts: dict[int, str]) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(ErrorBody, description=text, generate_examples=False)
        for status, text in texts.items()
    }


ERROR_RESPONSES = _responses(_ERRORS)
BODY_ERROR_RESPONSES = _responses(_BODY_ERRORS)


class ApiSchema(ReceiveRoutePlugin):
    """Adds the bearer requirement and the error responses to each API route's
    handlers as Litestar registers them (its copies: the module-level handlers stay
    as written)."""

    def receive_route(self, route: BaseRoute) -> None:
        if not route.path.startswith(API_PREFIX):
            return
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler):
                errors = ERROR_RESPONSES
                if handler.http_methods & BODY_METHODS:
                    errors = {**ERROR_RESPONSES, **BODY_ERROR_RESPONSES}
                handler.responses = {**errors, **(handler.responses or {})}
                handler.security = handler.security or [{"bearer": []}]
