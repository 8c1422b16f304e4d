"""Widget pages: templates compiled once at start-up, rendered to bytes.

The blank form, the page a citizen sees most, is rendered once per service, language
and channel around a placeholder; a request only splices in its fresh form token.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path

import jinja2

from collector.services import Service
from collector.translations import Catalogs

_TOKEN_PLACEHOLDER = "\x00form-token\x00"  # noqa: S105 (a marker, not a secret)
_ANCHORS = {"rating": "r1", "comment": "comment", "website": "website"}
_EMPTY_VALUES: Mapping[str, str] = {"rating": "", "comment": "", "website": ""}


def widget_directory() -> Path:
    """widget/ in a source checkout, or its copy inside an installed wheel."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_widget", package.parent / "widget"):
        if (candidate / "templates").is_dir():
            return candidate
    raise RuntimeError("widget templates not found next to the collector package")


class WidgetPages:
    def __init__(self, catalogs: Catalogs, directory: Path | None = None) -> None:
        directory = directory or widget_directory()
        self.catalogs = catalogs
        self._environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._css = (directory / "widget.css").read_text(encoding="utf-8").strip()
        digest = hashlib.sha256(self._css.encode()).digest()
        self.style_source = f"'sha256-{base64.b64encode(digest).decode()}'"
        self._form = self._environment.get_template("form.html")
        self._thanks = self._environment.get_template("thanks.html")
        self._message = self._environment.get_template("message.html")
        self._blank_forms: dict[tuple[str, str, str], tuple[bytes, bytes]] = {}
        self._thanks_pages: dict[tuple[str, str], bytes] = {}

    def _common(self, language: str) -> dict[str, object]:
        messages = self.catalogs.messages(language)
        return {
            "lang": language,
            "direction": "ltr",
            "t": messages,
            "css": self._css,
            "title": messages["page_title"],
        }

    def form(
        self,
        service: Service,
        language: str,
        channel: str,
        token: str,
        *,
        problems: Mapping[str, str] | None = None,
        values: Mapping[str, str] | None = None,
        notice: str | None = None,
    ) -> bytes:
        """The rating form, with an error summary and the citizen's values when given."""
        html = self._form.render(
            self._common(language),
            action=f"/w/{service.slug}",
            service_name=service.name,
            token=token,
            channel=channel,
            problems=problems or {},
            values=values or _EMPTY_VALUES,
            anchors=_ANCHORS,
            notice=notice,
        )
        return html.encode()

    def blank_form(self, service: Service, language: str, channel: str, token: str) -> bytes:
        key = (service.slug, language, channel)
        halves = self._blank_forms.get(key)
        if halves is None:
            before, after = self.form(service, language, channel, _TOKEN_PLACEHOLDER).split(
                _TOKEN_PLACEHOLDER.encode()
            )
            halves = self._blank_forms[key] = (before, after)
        return halves[0] + token.encode() + halves[1]

    def thanks(self, service: Service, language: str) -> bytes:
        key = (service.slug, language)
        page = self._thanks_pages.get(key)
        if page is None:
            page = self._thanks_pages[key] = self._thanks.render(self._common(language)).encode()
        return page

    def message(self, language: str, message: str, back: str | None = None) -> bytes:
        """A page with a title and a sentence, e.g. for 404, 413 or 429."""
        return self._message.render(self._common(language), message=message, back=back).encode()
