"""Widget pages: templates compiled once at start-up, rendered to bytes.

The blank form, the page a citizen sees most, is rendered once per service, language,
layout and channel around placeholders; a request only splices in its fresh form token
and the portal's transaction token, if any.
Each page inlines its CSS (base, layout, and the service's validated theme), and the
Content-Security-Policy allows exactly that stylesheet by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2

from collector.questions import QUESTIONS, answer_field
from collector.services import LAYOUTS, Service, Theme
from collector.translations import Catalogs

_TOKEN_PLACEHOLDER = "\x00form-token\x00"  # noqa: S105 (a marker, not a secret)
_TRANSACTION_PLACEHOLDER = "\x00transaction\x00"
_EMPTY_VALUES: Mapping[str, str] = {"rating": "", "comment": "", "website": ""}
_FONT_STACKS = {
    "system": 'system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif',
    "serif": 'Georgia,"Noto Serif","Times New Roman",serif',
    "rounded": '"Nunito","Segoe UI Rounded",ui-rounded,system-ui,sans-serif',
}
ENDONYMS = {
    "en": "English",
    "ru": "Русский",
    "hy": "Հայերեն",
    "ky": "Кыргызча",
    "uz": "O\u02bbzbekcha",  # U+02BB, the Uzbek letter after O
    "kk": "Қазақша",
}
# Fixed widget heights, so a portal sizes its iframe without script. The tallest
# content measured in Chromium at 320 px wide, over all six languages and every state
# (empty, error, filled, thank-you), with the tallest questions ("duration" wraps
# most): compact 117 px; full 393, 562, 659 and 719 px for 0 to 3 questions.
# tests/e2e/test_widget_browser.py fails if any state overflows.
COMPACT_HEIGHT = 120
FULL_HEIGHT_BY_QUESTIONS = (440, 580, 680, 740)


def widget_height(service: Service, layout: str) -> int | None:
    """The iframe height for a layout, in CSS pixels (None: a standalone page)."""
    if layout == "compact":
        return COMPACT_HEIGHT
    if layout == "full":
        return FULL_HEIGHT_BY_QUESTIONS[len(service.config.questions)]
    return None


def widget_directory() -> Path:
    """widget/ in a source checkout, or its copy inside an installed wheel."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_widget", package.parent / "widget"):
        if (candidate / "templates").is_dir():
            return candidate
    raise RuntimeError("widget templates not found next to the collector package")


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    style_source: str  # for the CSP's style-src: 'sha256-...'


@dataclass(frozen=True, slots=True)
class Question:
    field: str
    text: str
    options: tuple[tuple[str, str], ...]


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
        css = directory / "css"
        base = (css / "base.css").read_text(encoding="utf-8").strip()
        self._layout_css = {
            layout: base + "\n" + (css / f"{layout}.css").read_text(encoding="utf-8").strip()
            for layout in LAYOUTS
        }
        self._form = self._environment.get_template("form.html")
        self._thanks = self._environment.get_template("thanks.html")
        self._message = self._environment.get_template("message.html")
        self._styles: dict[tuple[str, str], tuple[str, str]] = {}
        self._blank_forms: dict[tuple[str, str, str, str], tuple[bytes, bytes, bytes, str]] = {}
        self._thanks_pages: dict[tuple[str, str, str, str], Page] = {}

    def forget(self, slugs: set[str]) -> None:
        """Drop the pages rendered for these services (their configuration changed)."""
        self._styles = {k: v for k, v in self._styles.items() if k[0] not in slugs}
        self._blank_forms = {k: v for k, v in self._blank_forms.items() if k[0] not in slugs}
        self._thanks_pages = {k: v for k, v in self._thanks_pages.items() if k[0] not in slugs}

    def _style(self, service: Service | None, layout: str) -> tuple[str, str]:
        """The page's CSS and its CSP source, cached per service and layout."""
        key = (service.slug if service else "", layout)
        cached = self._styles.get(key)
        if cached is None:
            theme = service.config.theme if service else Theme()
            height = widget_height(service, layout) if service else 440
            variables = (
                f":root{{--accent:{theme.accent};--radius:{theme.radius}px;"
                f"--font:{_FONT_STACKS[theme.font]};--box:{height or 440}px}}"
            )
            css = variables + "\n" + self._layout_css[layout]
            digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
            cached = self._styles[key] = (css, f"'sha256-{digest}'")
        return cached

    def _languages(self, service: Service | None) -> list[tuple[str, str]]:
        offered = service.config.languages if service and service.config.languages else None
        return [
            (code, ENDONYMS.get(code, code))
            for code in self.catalogs.languages
            if offered is None or code in offered
        ]

    def _render(
        self,
        template: jinja2.Template,
        service: Service | None,
        language: str,
        layout: str,
        channel: str,
        **context: object,
    ) -> Page:
        css, style_source = self._style(service, layout)
        messages = self.catalogs.messages(language)
        html = template.render(
            lang=language,
            direction="ltr",
            t=messages,
            css=css,
            title=messages["page_title"],
            layout=layout,
            channel=channel,
            languages=self._languages(service),
            **context,
        )
        return Page(html.encode(), style_source)

    def _questions(self, service: Service, language: str) -> list[Question]:
        messages = self.catalogs.messages(language)
        questions = []
        for question in service.config.questions:
            options = QUESTIONS[question]
            labels = (
                (value, messages[value])
                if options[0] == "agree"
                else (value, messages[f"q_{question}_{value}"])
                for value in options
            )
            text = service.question_text(question, language) or messages[f"q_{question}"]
            questions.append(Question(answer_field(question), text, tuple(labels)))
        return questions

    def form(
        self,
        service: Service,
        language: str,
        layout: str,
        channel: str,
        token: str,
        *,
        transaction: str = "",
        problems: Mapping[str, str] | None = None,
        values: Mapping[str, str] | None = None,
        notice: str | None = None,
    ) -> Page:
        """The rating form, with an error summary and the citizen's values when given."""
        questions = self._questions(service, language) if layout != "compact" else []
        # The summary lists problems in page order and links only to fields on the page.
        anchors = {"rating": "r1"}
        if layout != "compact":
            anchors["comment"] = "comment"
            anchors.update({question.field: f"{question.field}-0" for question in questions})
        order = ["rating", *(question.field for question in questions), "comment", "website"]
        ordered = sorted(
            (problems or {}).items(),
            key=lambda item: order.index(item[0]) if item[0] in order else len(order),
        )
        return self._render(
            self._form,
            service,
            language,
            layout,
            channel,
            action=f"/w/{service.slug}",
            service_name=service.display_name(language),
            questions=questions,
            token=token,
            transaction=transaction,
            problems=dict(problems or {}),
            problem_list=ordered,
            values=values or _EMPTY_VALUES,
            anchors=anchors,
            notice=notice,
        )

    def blank_form(
        self,
        service: Service,
        language: str,
        layout: str,
        channel: str,
        token: str,
        transaction: str = "",
    ) -> Page:
        """The empty form; token is ours (ASCII, safe in HTML), transaction is the
        portal's verified JWT, escaped all the same."""
        key = (service.slug, language, layout, channel)
        cached = self._blank_forms.get(key)
        if cached is None:
            page = self.form(
                service,
                language,
                layout,
                channel,
                _TOKEN_PLACEHOLDER,
                transaction=_TRANSACTION_PLACEHOLDER,
            )
            before, rest = page.body.split(_TOKEN_PLACEHOLDER.encode())
            middle, after = rest.split(_TRANSACTION_PLACEHOLDER.encode())
            cached = self._blank_forms[key] = (before, middle, after, page.style_source)
        before, middle, after, style_source = cached
        body = before + token.encode() + middle + html.escape(transaction).encode() + after
        return Page(body, style_source)

    def thanks(self, service: Service, language: str, layout: str, channel: str) -> Page:
        key = (service.slug, language, layout, channel)
        page = self._thanks_pages.get(key)
        if page is None:
            # In a service hall the next person rates on the same screen.
            again = (
                f"/w/{service.slug}?lang={language}&layout={layout}&channel={channel}"
                if layout == "page" or channel == "kiosk"
                else None
            )
            page = self._thanks_pages[key] = self._render(
                self._thanks, service, language, layout, channel, again=again
            )
        return page

    def message(
        self,
        language: str,
        message: str,
        service: Service | None = None,
        layout: str = "full",
        back: str | None = None,
    ) -> Page:
        """A page with a title and a sentence, e.g. for 404, 413 or 429."""
        return self._render(
            self._message, service, language, layout, "web", message=message, back=back
        )
