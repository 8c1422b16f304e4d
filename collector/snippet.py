"""The iframe snippet a portal pastes into its "done" page."""

from __future__ import annotations

from html import escape

from collector.services import Service

# The widget's fixed box height (widget/widget.css, .box), so no script is needed to
# size the frame. Measured in Chromium: the longest state (Russian, two errors in the
# summary, 320 px wide) is 432 px tall; the blank English form is 283 px.
WIDGET_HEIGHT_PIXELS = 440


def widget_url(public_url: str, service: Service) -> str:
    return f"{public_url}/w/{service.slug}"


def iframe_snippet(public_url: str, service: Service) -> str:
    url = escape(widget_url(public_url, service), quote=True)
    title = escape(f"Rate: {service.name}", quote=True)
    return (
        f'<iframe src="{url}" title="{title}" width="100%" height="{WIDGET_HEIGHT_PIXELS}" '
        'style="border:0;max-width:480px" loading="lazy" '
        'sandbox="allow-forms allow-same-origin"></iframe>'
    )
