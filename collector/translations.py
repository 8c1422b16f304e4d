"""Translations: one JSON catalog per language in widget/translations/.

English is the reference: a catalog missing any of its keys fails at start-up, so a
citizen never sees a raw message key.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path

REFERENCE_LANGUAGE = "en"


class Catalogs:
    """All languages' messages, loaded once."""

    def __init__(self, directory: Path) -> None:
        self._messages: dict[str, dict[str, str]] = {}
        for path in sorted(directory.glob("*.json")):
            self._messages[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        reference = self._messages.get(REFERENCE_LANGUAGE)
        if reference is None:
            raise RuntimeError(f"{directory}: no {REFERENCE_LANGUAGE}.json catalog")
        for language, messages in self._messages.items():
            missing = sorted(set(reference) - set(messages))
            if missing:
                raise RuntimeError(f"{language}.json lacks {', '.join(missing)}")

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._messages)

    def messages(self, language: str) -> Mapping[str, str]:
        return self._messages.get(language) or self._messages[REFERENCE_LANGUAGE]

    def choose(
        self,
        requested: str | None,
        accept_language: str | None,
        default: str,
        offered: Collection[str] = (),
    ) -> str:
        """The `lang` parameter, then Accept-Language, then the service's default;
        only languages with a catalog and, if `offered` is given, among those."""

        def usable(language: str) -> bool:
            return language in self._messages and (not offered or language in offered)

        if requested is not None and usable(requested):
            return requested
        for candidate in _accepted_languages(accept_language or ""):
            if usable(candidate):
                return candidate
        if usable(default):
            return default
        return next((language for language in offered if usable(language)), REFERENCE_LANGUAGE)


def _accepted_languages(header: str) -> list[str]:
    """Primary language subtags from an Accept-Language header, best first."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:20]):
        parts = item.strip().split(";")
        tag = parts[0].strip().lower().split("-")[0]
        quality = 1.0
        for parameter in parts[1:]:
            name, _, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]
