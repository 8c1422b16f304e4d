"""The iframe snippet a portal pastes into its "done" page."""

from __future__ import annotations

from html import escape

from collector.pages import widget_height
from collector.services import Service


def widget_url(public_url: str, service: Service, layout: str | None = None) -> str:
    url = f"{public_url}/w/{service.slug}"
    return f"{url}?layout={layout}" if layout and layout != service.config.layout else url


def iframe_snippet(public_url: str, service: Service, layout: str | None = None) -> str:
    """An iframe of the fixed height of the layout (the service's own by default), so
    no script is needed to size it."""
    chosen = layout or service.config.layout
    url = escape(widget_url(public_url, service, layout), quote=True)
    title = escape(f"Rate: {service.name}", quote=True)
    height = widget_height(service, chosen) or 740
    return (
        f'<iframe src="{url}" title="{title}" width="100%" height="{height}" '
        'style="border:0;max-width:480px" loading="lazy" '
        'sandbox="allow-forms allow-same-origin"></iframe>'
    )
