"""QR codes of a service's standalone page, for posters at service counters."""

from __future__ import annotations

import io

import segno

from collector.services import Service


class QrCodes:
    """SVG QR codes pointing at the page layout with channel=qr, made once each."""

    def __init__(self, public_url: str) -> None:
        self._public_url = public_url
        self._made: dict[str, bytes] = {}

    def svg(self, service: Service) -> bytes:
        key = f"{service.slug}\n{service.name}"  # the name is the SVG's title
        code = self._made.get(key)
        if code is None:
            target = f"{self._public_url}/w/{service.slug}?layout=page&channel=qr"
            svg = io.BytesIO()
            segno.make(target, error="m").save(
                svg, kind="svg", scale=8, border=4, xmldecl=False, title=service.name
            )
            code = self._made[key] = svg.getvalue()
        return code
