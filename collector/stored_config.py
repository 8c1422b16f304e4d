"""A service's configuration read back from storage, never taking the others down.

Storage holds what the admin API and the CLI validated, but a value may have reached
it some other way (an older version's limits, a hand edit, a restored backup). Texts
stored past their limits are cut to them; a configuration beyond repair leaves that
one service out, logged, instead of failing every load of the catalog.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from collector.plain_text import AGENCY_CHARACTERS, NAME_CHARACTERS, QUESTION_TEXT_CHARACTERS
from collector.services import CONFIG_DECODER, CONFIG_ENCODER, ServiceConfig

logger = logging.getLogger(__name__)
# Storage is read every second: each bad stored value is logged once per process.
_reported: set[tuple[str, int]] = set()

_LOOSE_DECODER = msgspec.json.Decoder()
# A stored text beyond its limit is cut to it rather than losing the service.
_TEXT_LIMITS = {
    "names": NAME_CHARACTERS,
    "question_texts": QUESTION_TEXT_CHARACTERS,
    "agency": AGENCY_CHARACTERS,
}


def decode_stored_config(slug: str, raw: bytes | str) -> ServiceConfig | None:
    """The stored configuration, repaired if need be; None (logged) if beyond repair."""
    try:
        return CONFIG_DECODER.decode(raw)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as error:
        _report(slug, raw, f"is no JSON ({error}); the service is left out")
        return None
    loose = _LOOSE_DECODER.decode(raw)
    if isinstance(loose, dict):
        repaired = {
            name: _within(value, _TEXT_LIMITS[name]) if name in _TEXT_LIMITS else value
            for name, value in loose.items()
        }
        try:
            config = CONFIG_DECODER.decode(CONFIG_ENCODER.encode(repaired))
        except msgspec.ValidationError as error:
            _report(slug, raw, f"is refused ({error}); the service is left out")
            return None
        _report(slug, raw, "has texts beyond their limits; they are cut", logging.WARNING)
        return config
    _report(slug, raw, "is no JSON object; the service is left out")
    return None


def _report(slug: str, raw: bytes | str, problem: str, level: int = logging.ERROR) -> None:
    seen = (slug, hash(raw))
    if seen not in _reported:
        _reported.add(seen)
        logger.log(level, "service %r: its stored configuration %s", slug, problem)


def _within(value: Any, maximum: int) -> Any:
    """Strings cut to the maximum, in nested objects too; empty ones left out."""
    if isinstance(value, str):
        return value[:maximum]
    if isinstance(value, dict):
        return {key: _within(item, maximum) for key, item in value.items() if item != ""}
    return value
