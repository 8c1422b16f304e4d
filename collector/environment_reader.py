"""Reading configuration variables: each parsed from its text, a blank one taken as
unset, a bad one refused with a message naming the variable (and, unless it may hold
a secret, its value)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")

_WHOLE_NUMBER = re.compile(r"-?[0-9]+")

MIN_SECRET_LENGTH = 32


class SettingsError(ValueError):
    """A configuration variable has a value we cannot use."""


class EnvironmentReader:
    """Reads one variable at a time: blank is unset (the default), a bad value raises
    SettingsError naming the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def _get(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def _parse(
        self, name: str, default: T, parse: Callable[[str], T], *, confidential: bool = False
    ) -> T:
        """confidential: the value may hold a secret or a password, so the message names
        the variable and the problem only (start-up errors end up in logs)."""
        raw = self._get(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as error:
            shown = name if confidential else f"{name}={raw!r}"
            raise SettingsError(f"{shown}: {error}") from None

    def text(self, name: str, default: str) -> str:
        return self._parse(name, default, str)

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        def parse(raw: str) -> int:
            # Not int() alone, which also takes other scripts' digits, '3_0' and '+3'.
            if not _WHOLE_NUMBER.fullmatch(raw):
                raise ValueError("must be a whole number in digits 0-9")
            value = int(raw)
            if not low <= value <= high:
                raise ValueError(f"must be between {low} and {high}")
            return value

        return self._parse(name, default, parse)

    def seconds(self, name: str, default: float, low: float, high: float) -> float:
        def parse(raw: str) -> float:
            value = float(raw)
            if not low <= value <= high:  # also refuses nan
                raise ValueError(f"must be between {low:g} and {high:g} seconds")
            return value

        return self._parse(name, default, parse)

    def boolean(self, name: str, default: bool) -> bool:
        def parse(raw: str) -> bool:
            lowered = raw.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError("must be one of on/off, true/false, yes/no, 1/0")

        return self._parse(name, default, parse)

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        def parse(raw: str) -> str:
            if raw.lower() not in choices:
                raise ValueError(f"must be one of {', '.join(choices)}")
            return raw.lower()

        return self._parse(name, default, parse)

    def url(
        self,
        name: str,
        schemes: tuple[str, ...],
        problem: Callable[[str], str | None] = lambda url: None,
    ) -> str:
        def parse(raw: str) -> str:
            if not raw.startswith(schemes):
                raise ValueError(f"must start with {' or '.join(schemes)}")
            found = problem(raw)
            if found:
                raise ValueError(found)
            return raw

        # A URL may carry a password (postgresql://user:password@host/db).
        return self._parse(name, "", parse, confidential=True)

    def secret(self, name: str) -> str:
        def parse(raw: str) -> str:
            if len(raw) < MIN_SECRET_LENGTH:
                raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
            return raw

        return self._parse(name, "", parse, confidential=True)
