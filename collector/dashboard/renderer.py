"""Dashboard pages as HTML responses: Jinja2 templates (autoescaped), one inline
stylesheet, and a Content-Security-Policy that allows exactly that stylesheet and
nothing else: no script, no image, no font, no framing."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from pathlib import Path

import jinja2
from litestar import MediaType, Response
from litestar.datastructures import Cookie

from collector.dashboard import numbers

_DIRECTORY = Path(__file__).resolve().parent
CSS = (_DIRECTORY / "dashboard.css").read_text(encoding="utf-8").strip()
_STYLE_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode() + "'"
POLICY = (
    f"default-src 'none'; style-src {_STYLE_SOURCE}; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# Figures are the tenant's own: no shared cache, no back-button copy after sign-out.
HEADERS = {"content-security-policy": POLICY, "cache-control": "no-store"}

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_DIRECTORY / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    auto_reload=False,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters.update(
    count=numbers.count,
    mean=numbers.mean,
    percent=numbers.percent,
    score=numbers.score,
    duration=numbers.duration,
)


def page(
    template: str, status: int = 200, cookies: Sequence[Cookie] = (), **context: object
) -> Response[bytes]:
    """A rendered template with the dashboard's headers."""
    html = _environment.get_template(template).render(css=CSS, **context)
    return Response(
        html.encode(),
        status_code=status,
        media_type=MediaType.HTML,
        headers=HEADERS,
        cookies=list(cookies),
    )


def redirect(location: str, cookies: Sequence[Cookie] = ()) -> Response[bytes]:
    """303 See Other: after a form POST the browser GETs the next page."""
    return Response(
        b"",
        status_code=303,
        media_type=MediaType.TEXT,
        headers={**HEADERS, "location": location},
        cookies=list(cookies),
    )
