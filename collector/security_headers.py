"""Security headers: the four every response carries, whichever route answered it.

Litestar's responses get them from `add_security_headers`, its before-send hook, so
error pages (404, 405, 500), the schema and anything added later are covered without
per-route code. A response that sets its own Content-Security-Policy keeps it (the
dashboard's and open data's HTML, the widget's pages with the service's
frame-ancestors); every other response gets the strict one, which suits JSON, CSV and
plain text: no script, no style, no framing. The widget's hot path does not go through
here: it sends these same constant tuples itself (collector/widget.py).
"""

from __future__ import annotations

from litestar.types import Message, Scope

NO_SNIFFING = (b"x-content-type-options", b"nosniff")
NO_REFERRER = (b"referrer-policy", b"no-referrer")
# Features nothing we serve uses; a compromised page could not ask for them either.
NO_FEATURES = (
    b"permissions-policy",
    b"camera=(), microphone=(), geolocation=(), payment=(), usb=()",
)
STRICT_POLICY = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")

# The headers every response has, whatever its content.
ALWAYS: tuple[tuple[bytes, bytes], ...] = (NO_SNIFFING, NO_REFERRER, NO_FEATURES)
_EVERY: tuple[tuple[bytes, bytes], ...] = (*ALWAYS, STRICT_POLICY)


async def add_security_headers(message: Message, _: Scope) -> None:
    """Litestar before-send hook: append whichever of the four the response lacks."""
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers") or ())
    present = {name.lower() for name, _ in headers}
    headers.extend(header for header in _EVERY if header[0] not in present)
    message["headers"] = headers
