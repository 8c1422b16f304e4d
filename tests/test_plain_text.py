"""Plain text: the one check of texts admins and CLI users give, and what stored
texts become before they are shown."""

from __future__ import annotations

import pytest

from collector.errors import Unprocessable
from collector.plain_text import clean, displayable

NO_BREAK_SPACE = "\u00a0"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("Passport renewal", "Passport renewal"),
        ("  Passport renewal \n", "Passport renewal"),  # trimmed
        ("Cafe\u0301", "Caf\u00e9"),  # NFC
        ("Անձնագրի փոխարինում", "Անձնագրի փոխարինում"),
        ("Անձնագրի" + NO_BREAK_SPACE + "փոխարինում",) * 2,  # a no-break space is text
        ("family \U0001f468\u200d\U0001f469\u200d\U0001f467", "family 👨‍👩‍👧"),  # joiners stay
        ("x" * 120, "x" * 120),
    ],
)
def test_plain_text_is_kept_normalised(given: str, kept: str) -> None:
    assert clean(given, "name", maximum=120) == kept


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("Pass\x00port", "name: holds the control character U+0000 at position 5; plain text only"),
        ("Pass\tport", "name: holds the control character U+0009 at position 5"),
        ("line\nbreak", "name: holds the control character U+000A at position 5"),
        ("esc\x1b[31m", "name: holds the control character U+001B at position 4"),
        ("del\x7f", "name: holds the control character U+007F at position 4"),
        ("next\x85line", "name: holds the control character U+0085 at position 5"),
        ("\u202eevil", "name: holds the control character U+202E at position 1"),
        ("a\u2066b\u2069", "name: holds the control character U+2066 at position 2"),
        ("right\u200fmark", "name: holds the control character U+200F at position 6"),
        ("line\u2028sep", "name: holds the control character U+2028 at position 5"),
        ("bom\ufeff!", "name: holds the control character U+FEFF at position 4"),
        ("lone\udcffsurrogate", "name: holds the control character U+DCFF at position 5"),
        ("", "name: must not be empty"),
        (" \n\t ", "name: must not be empty"),
        ("x" * 121, "name: 121 characters, at most 120 allowed"),
    ],
)
def test_anything_else_is_422_naming_the_field(given: str, problem: str) -> None:
    with pytest.raises(Unprocessable) as raised:
        clean(given, "name", maximum=120)
    assert raised.value.status_code == 422
    assert raised.value.field == "name"
    assert raised.value.detail.startswith(problem)


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("Passport renewal", "Passport renewal"),
        ("Pass\x00port\u202e", "Pass\ufffdport\ufffd"),
        ("a\udcffb", "a\ufffdb"),
        ("x" * 500, "x" * 119 + "\u2026"),
    ],
)
def test_stored_text_is_shown_without_what_plain_text_may_not_hold(stored: str, shown: str) -> None:
    assert displayable(stored, 120) == shown
