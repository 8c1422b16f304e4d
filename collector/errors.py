"""Errors: a small hierarchy with the HTTP status on the class.

They are raised anywhere and turned into a response only at the edge: a translated page
for citizens (the `page_message` key names the text in the widget's catalogs) and a
JSON body naming the problem for the API. `reason` names the rejection in the counters
admins read (collector/rejections.py).
"""

from __future__ import annotations


class CollectorError(Exception):
    status_code = 500
    page_message = "error_generic"
    reason = "error"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        page_message: str | None = None,
        retry_after_seconds: int = 0,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        if reason is not None:
            self.reason = reason
        if page_message is not None:
            self.page_message = page_message
        # When to try again (a Retry-After header), if the refusal is temporary.
        self.retry_after_seconds = retry_after_seconds


class BadRequest(CollectorError):
    status_code = 400
    page_message = "error_bad_request"
    reason = "bad_request"


class Unauthorized(CollectorError):
    status_code = 401
    page_message = "error_bad_request"
    reason = "unauthorized"


class Forbidden(CollectorError):
    status_code = 403
    page_message = "error_forbidden"
    reason = "forbidden"


class NotFound(CollectorError):
    status_code = 404
    page_message = "error_not_found"
    reason = "not_found"


class MethodNotAllowed(CollectorError):
    status_code = 405
    page_message = "error_bad_request"
    reason = "method_not_allowed"


class RequestTimeout(CollectorError):
    status_code = 408
    page_message = "error_bad_request"
    reason = "slow_body"


class PayloadTooLarge(CollectorError):
    status_code = 413
    page_message = "error_too_large"
    reason = "payload_too_large"


class UnsupportedMediaType(CollectorError):
    status_code = 415
    page_message = "error_bad_request"
    reason = "unsupported_media_type"


class Unprocessable(CollectorError):
    """Well-formed, but a value is not acceptable (a control character in a name)."""

    status_code = 422
    page_message = "error_bad_request"
    reason = "unprocessable"


class TooManyRequests(CollectorError):
    status_code = 429
    page_message = "error_rate_limited"
    reason = "rate_limited"


class ServiceUnavailable(CollectorError):
    """Redis (or storage) did not answer: nothing was saved."""

    status_code = 503
    page_message = "error_not_saved"
    reason = "unavailable"
