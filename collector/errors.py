"""Errors: a small hierarchy with the HTTP status on the class.

They are raised anywhere and turned into a response only at the edge: a translated page
for citizens (the `page_message` key names the text in the widget's catalogs) and a
JSON body naming the problem for the API.
"""

from __future__ import annotations


class CollectorError(Exception):
    status_code = 500
    page_message = "error_generic"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class BadRequest(CollectorError):
    status_code = 400
    page_message = "error_bad_request"


class Unauthorized(CollectorError):
    status_code = 401
    page_message = "error_bad_request"


class Forbidden(CollectorError):
    status_code = 403
    page_message = "error_forbidden"


class NotFound(CollectorError):
    status_code = 404
    page_message = "error_not_found"


class MethodNotAllowed(CollectorError):
    status_code = 405
    page_message = "error_bad_request"


class PayloadTooLarge(CollectorError):
    status_code = 413
    page_message = "error_too_large"


class UnsupportedMediaType(CollectorError):
    status_code = 415
    page_message = "error_bad_request"


class TooManyRequests(CollectorError):
    status_code = 429
    page_message = "error_rate_limited"


class ServiceUnavailable(CollectorError):
    """Redis (or storage) did not answer: nothing was saved."""

    status_code = 503
    page_message = "error_not_saved"
