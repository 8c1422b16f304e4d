"""The iframe snippet a portal pastes into its "done" page."""

from __future__ import annotations

from html import escape

from collector.pages import widget_height
from collector.services import Service


def widget_url(public_url: str, service: Service, layout: str | None = None) -> str:
    url = f"{public_url}/w/{service.slug}"
    return f"{url}?layout={layout}" if layout and layout != service.config.layout else url


TOKEN_PLACEHOLDER = "TRANSACTION_TOKEN"  # noqa: S105 (text for a person to replace)


def iframe_snippet(public_url: str, service: Service, layout: str | None = None) -> str:
    """An iframe of the fixed height of the layout (the service's own by default), so
    no script is needed to size it; with the transaction token's place when the service
    requires one."""
    chosen = layout or service.config.layout
    url = widget_url(public_url, service, layout)
    if service.config.token_policy == "required":  # noqa: S105 (a policy, not a password)
        url += ("&" if "?" in url else "?") + f"t={TOKEN_PLACEHOLDER}"
    title = escape(f"Rate: {service.name}", quote=True)
    height = widget_height(service, chosen) or 740
    return (
        f'<iframe src="{escape(url, quote=True)}" title="{title}" width="100%" '
        f'height="{height}" style="border:0;max-width:480px" loading="lazy" '
        'sandbox="allow-forms allow-same-origin"></iframe>'
    )


def token_note(service: Service) -> str | None:
    """An HTML comment for the snippet, on the service's transaction token."""
    policy = service.config.token_policy
    if policy == "required":
        return (
            f"<!-- Your back end replaces {TOKEN_PLACEHOLDER} with the token it signs for "
            "this transaction (embed-snippets/README.md). -->"
        )
    if policy == "optional":
        return (
            "<!-- To rate each transaction at most once, add t=<token your back end signs> "
            "to src (embed-snippets/README.md). -->"
        )
    return None
