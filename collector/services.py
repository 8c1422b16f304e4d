"""Services: what can be rated, which tenant (agency) owns it, and how its widget looks.

The hot path looks services up in memory; the catalog is loaded from storage at
start-up, so a request never waits on SQL to learn whether a service exists.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Annotated, Literal, cast

import msgspec

from collector import plain_text
from collector.errors import Unprocessable
from collector.messages import Language
from collector.plain_text import AGENCY_CHARACTERS, NAME_CHARACTERS, QUESTION_TEXT_CHARACTERS
from collector.questions import MAXIMUM_QUESTIONS_PER_SERVICE, QuestionId

logger = logging.getLogger(__name__)

DEMO_TENANT_ID = "demo"
DEMO_TENANT_NAME = "Demo agency"

Layout = Literal["compact", "full", "page"]
LAYOUTS: tuple[str, ...] = ("compact", "full", "page")
FontStack = Literal["system", "serif", "rounded"]
TokenPolicy = Literal["off", "optional", "required"]
# Three years: long enough to compare a service with itself over an electoral cycle.
DEFAULT_RETENTION_DAYS = 3 * 365
# Minimum contrast of white button text on the accent colour (WCAG 2.2 AA, 1.4.3).
MINIMUM_ACCENT_CONTRAST = 4.5


def _relative_luminance(hex_colour: str) -> float:
    def channel(value: int) -> float:
        scaled = value / 255
        return scaled / 12.92 if scaled <= 0.03928 else ((scaled + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast_with_white(hex_colour: str) -> float:
    return 1.05 / (_relative_luminance(hex_colour) + 0.05)


class Theme(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Only these validated values reach the widget's CSS: no CSS injection."""

    accent: Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")] = "#0b57d0"
    radius: Annotated[int, msgspec.Meta(ge=0, le=24)] = 4
    font: FontStack = "system"

    def __post_init__(self) -> None:
        contrast = contrast_with_white(self.accent)
        if contrast < MINIMUM_ACCENT_CONTRAST:
            raise ValueError(
                f"accent {self.accent} has contrast {contrast:.2f}:1 with white text; "
                f"at least {MINIMUM_ACCENT_CONTRAST}:1 is needed"
            )


# An origin as a browser sends it: scheme, host, optional port; no path.
_ORIGIN_SHAPE = r"https?://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?"
Origin = Annotated[str, msgspec.Meta(pattern=f"^{_ORIGIN_SHAPE}$")]
# The pattern's "$" also matches before a final newline (Python's re), and a header
# must never hold one: origins are checked again with fullmatch.
_ORIGIN = re.compile(_ORIGIN_SHAPE)
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
MAXIMUM_ORIGINS = 20


class ServiceConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How a service's widget looks and what it asks; new fields get defaults."""

    names: dict[
        Language, Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_CHARACTERS)]
    ] = {}
    # Languages offered; empty means every language with a catalog.
    languages: tuple[Language, ...] = ()
    questions: Annotated[
        tuple[QuestionId, ...], msgspec.Meta(max_length=MAXIMUM_QUESTIONS_PER_SERVICE)
    ] = ()
    question_texts: dict[
        Language,
        dict[
            QuestionId,
            Annotated[str, msgspec.Meta(min_length=1, max_length=QUESTION_TEXT_CHARACTERS)],
        ],
    ] = {}
    layout: Layout = "full"
    theme: Theme = Theme()
    # Pages allowed to frame the widget (CSP frame-ancestors); empty means any page,
    # so that a new service works in a portal before its origins are set.
    allowed_origins: Annotated[tuple[Origin, ...], msgspec.Meta(max_length=MAXIMUM_ORIGINS)] = ()
    # Transaction tokens signed by the portal (collector/transaction_token.py): "off"
    # ignores them, "optional" verifies one when the link carries it, "required" shows
    # no form without one.
    token_policy: TokenPolicy = "optional"  # noqa: S105 (a policy name, not a password)
    # How long ratings' comments are to be kept, in days. Stored and validated; no
    # purge job applies it yet.
    retention_days: Annotated[int, msgspec.Meta(ge=1, le=36500)] = DEFAULT_RETENTION_DAYS
    # The agency (a unit of the tenant) that delivers the service, for league tables
    # of agencies; empty means the tenant itself.
    agency: Annotated[str, msgspec.Meta(max_length=AGENCY_CHARACTERS)] = ""
    # Publish monthly figures at /open/{service} (collector/open_figures.py), leaving out
    # every figure that counts fewer than open_data_minimum_count ratings.
    open_data: bool = False
    open_data_minimum_count: Annotated[int, msgspec.Meta(ge=5, le=1000)] = 10

    @property
    def frame_ancestors(self) -> str:
        """CSP frame-ancestors: the well-formed origins; any page until some are set,
        and no page when only malformed ones were stored."""
        if not self.allowed_origins:
            return "*"
        return " ".join(o for o in self.allowed_origins if _ORIGIN.fullmatch(o)) or "'none'"

    def __post_init__(self) -> None:
        if len(set(self.questions)) != len(self.questions):
            raise ValueError("a question is listed twice")

    def cleaned(self, prefix: str = "config.") -> ServiceConfig:
        """The texts an admin gave, checked and normalised (collector/plain_text.py);
        Unprocessable (422) names the first bad one, as `config.names.en`."""
        names = {
            language: plain_text.clean(text, f"{prefix}names.{language}", maximum=NAME_CHARACTERS)
            for language, text in self.names.items()
        }
        question_texts = {
            language: {
                question: plain_text.clean(
                    text,
                    f"{prefix}question_texts.{language}.{question}",
                    maximum=QUESTION_TEXT_CHARACTERS,
                )
                for question, text in texts.items()
            }
            for language, texts in self.question_texts.items()
        }
        agency = plain_text.clean(
            self.agency, f"{prefix}agency", maximum=AGENCY_CHARACTERS, minimum=0
        )
        origins = tuple(
            _clean_origin(origin, f"{prefix}allowed_origins[{index}]")
            for index, origin in enumerate(self.allowed_origins)
        )
        return msgspec.structs.replace(
            self, names=names, question_texts=question_texts, agency=agency, allowed_origins=origins
        )

    def displayable(self) -> ServiceConfig:
        """The texts as they may be shown, whatever storage held (plain_text)."""
        return msgspec.structs.replace(
            self,
            names={
                language: plain_text.displayable(text, NAME_CHARACTERS)
                for language, text in self.names.items()
            },
            question_texts={
                language: {
                    question: plain_text.displayable(text, QUESTION_TEXT_CHARACTERS)
                    for question, text in texts.items()
                }
                for language, texts in self.question_texts.items()
            },
            agency=plain_text.displayable(self.agency, AGENCY_CHARACTERS),
        )


def _clean_origin(origin: str, field: str) -> str:
    text = plain_text.clean(origin, field, maximum=270)
    if not _ORIGIN.fullmatch(text):
        raise Unprocessable(
            f"{field}: {text[:70]!r} is no origin; use scheme://host[:port]", field=field
        )
    return text


class Tenant(msgspec.Struct, frozen=True):
    """An organisation (a government body or an agency): it owns services and signing
    keys, and its analysts see its figures in its time zone."""

    id: str
    name: str
    time_zone: str = "UTC"

    def displayable(self) -> Tenant:
        """The tenant with its name as it may be shown (collector/plain_text.py)."""
        return Tenant(self.id, plain_text.displayable(self.name, NAME_CHARACTERS), self.time_zone)


class Service(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    tenant_id: str
    name: str
    default_language: str = "en"
    config: ServiceConfig = ServiceConfig()

    def displayable(self) -> Service:
        """The service with its texts as they may be shown (collector/plain_text.py)."""
        return msgspec.structs.replace(
            self,
            name=plain_text.displayable(self.name, NAME_CHARACTERS),
            config=self.config.displayable(),
        )

    def display_name(self, language: str) -> str:
        names = cast("Mapping[str, str]", self.config.names)
        return names.get(language, self.name)

    def question_text(self, question: str, language: str) -> str | None:
        texts = cast("Mapping[str, Mapping[str, str]]", self.config.question_texts)
        return texts.get(language, {}).get(question)


CONFIG_ENCODER = msgspec.json.Encoder()
CONFIG_DECODER = msgspec.json.Decoder(ServiceConfig)

DEMO_SERVICE = Service(
    slug="demo-passport",
    tenant_id=DEMO_TENANT_ID,
    name="Passport renewal (demo)",
    default_language="en",
    config=ServiceConfig(
        names={
            "en": "Passport renewal (demo)",
            "ru": "Замена паспорта (демо)",
            "hy": "Անձնագրի փոխարինում (դեմո)",
            "ky": "Паспортту алмаштыруу (демо)",
            "uz": "Pasportni almashtirish (demo)",
            "kk": "Төлқұжатты ауыстыру (демо)",
        },
        questions=("resolved", "duration"),
    ),
)


class ServiceCatalog:
    """An in-memory map of service slug to Service, with texts as they may be shown
    (whatever storage held: every page renders from here) and slugs that are
    identifiers (a slug goes into links and headers)."""

    def __init__(self, services: list[Service] | None = None) -> None:
        self._stored: dict[str, Service] = {}
        self._services: dict[str, Service] = {}
        self._bad_slugs: set[str] = set()  # logged once each
        self.replace(services or [])

    def get(self, slug: str) -> Service | None:
        return self._services.get(slug)

    def all(self) -> list[Service]:
        """Every service, by slug."""
        return sorted(self._services.values(), key=lambda service: service.slug)

    def replace(self, services: list[Service]) -> set[str]:
        """Swap in a new list; returns the slugs added, changed or removed."""
        stored: dict[str, Service] = {}
        for service in services:
            if _SLUG.fullmatch(service.slug):
                stored[service.slug] = service
            elif service.slug not in self._bad_slugs:
                self._bad_slugs.add(service.slug)
                logger.error(
                    "a stored service has the slug %r, no identifier; left out", service.slug
                )
        changed = {
            slug
            for slug in stored.keys() | self._stored.keys()
            if stored.get(slug) != self._stored.get(slug)
        }
        # Only changed services are made displayable again: this runs every second.
        self._services = {
            slug: service.displayable() if slug in changed else self._services[slug]
            for slug, service in stored.items()
        }
        self._stored = stored
        return changed

    def __len__(self) -> int:
        return len(self._services)
