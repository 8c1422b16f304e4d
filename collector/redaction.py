"""Redaction: personal data in a citizen's comment replaced by a typed placeholder before
the comment is stored ("звоните [phone]", "ИИН [id]").

Found: emails; phone numbers (with "+", "00" or the local trunk prefixes of Armenia,
Russia, Kazakhstan, Kyrgyzstan and Uzbekistan); payment card numbers that pass Luhn;
national identifiers (collector/personal_data_patterns.py says which, and which need a
context word). Left alone: dates, times, amounts, short numbers, URLs (an address of a
government page is not personal data) and digits glued to letters (codes such as
"A12345678901"), except the two-letter passport series "AA1234567".

Runs on the hot path for every comment (before the stream, the AOF or the spool hold it)
and again in the flusher, so patterns are compiled once and a comment with no "@" and no
seven digits close together is returned untouched at once.
"""

# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from collector.personal_data_patterns import (
    CONTEXT,
    CONTEXT_AFTER_CHARACTERS,
    CONTEXT_BEFORE_CHARACTERS,
    CONTEXT_LENGTHS,
    Kind,
    is_amount,
    number_kind,
)

PLACEHOLDERS: dict[Kind, str] = {
    "email": "[email]",
    "phone": "[phone]",
    "card": "[card]",
    "id": "[id]",
}
# What a stored comment's placeholders look like, for code that reads comments back
# (recurring terms must not count "phone" as a word citizens used).
PLACEHOLDER = re.compile(r"\[(?:email|phone|card|id)\]")

_WORTH_SCANNING = re.compile(r"\d(?:\D{0,9}\d){6}")
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@(?:[\w-]+\.)+[^\W\d_]{2,}(?![\w-])")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# Digits, each at most three separators from the next: spaces, dashes, dots and
# parentheses, as in "+7 (916) 123-45-67". Not glued to a word, and not inside a path
# or query string (/ = & # %).
_NUMBER = re.compile(r"(?<![\w+@/=&#%])(?:\(\+|\+\(?|\()?\d(?:[ \u00a0().\-]{0,3}\d)*(?![\w@])")
_DIGITS = re.compile(r"\d+")
# A run that is just a date, the commonest run of eight digits, is passed over at once.
_DATE = re.compile(r"\d{1,2}([./-])\d{1,2}\1(?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2}")
# Two letters and seven digits. Uppercase when a space parts them, so that "no 1234567"
# stays; Cyrillic capitals that look Latin, as people type the series on a Russian layout.
_LETTERS_IDENTIFIER = re.compile(
    r"(?<!\w)(?:[A-Z]{2}[ \u00a0]?|[A-Za-z]{2}|[АВЕКМНОРСТХ]{2}[ \u00a0]?)\d{7}(?!\w)"
)
_SEVEN_DIGITS = re.compile(r"\d{7}(?<!\d\d{7})(?!\w)")
# (Lookbehinds stand after a first literal or digit, so re can skip ahead to it fast.)
# Need a context word: a Kazakh passport (N and eight digits; "N" alone also means "№"),
# and a Russian passport written "серия 4506 № 123456".
_KAZAKH_PASSPORT = re.compile(r"N(?<!\wN)\d{8}(?!\w)")
_SERIES_AND_NUMBER = re.compile(
    r"\d(?<!\w\d)\d[ \u00a0]?\d{2}[ \u00a0]*,?[ \u00a0]*"
    r"(?:№|N|No\.?|номер|nomer|raqam)[ \u00a0]*\d{6}(?!\w)",
    re.IGNORECASE,
)
# Personal numbers have at least eight digits; shorter runs are not split up further.
_FEWEST_DIGITS = 8
# A phone number or card has at most about six groups; longer runs are lists of numbers.
_MOST_GROUPS = 8
# Parts of runs judged per comment at the most. Each costs 2-4 us, and a comment made
# of "1 1 1 1 ..." has 500 of them (2-8 ms measured here), a cheap way to slow the
# flusher down. 200 parts find about twenty phone numbers written in one comment.
_MOST_PARTS_JUDGED = 200


@dataclass(frozen=True, slots=True)
class Finding:
    """One item of personal data: text[start:end] is replaced by its kind's placeholder."""

    start: int
    end: int
    kind: Kind


def redact(text: str) -> str:
    """The text with every item of personal data replaced by its placeholder."""
    findings = find_personal_data(text)
    if not findings:
        return text
    pieces: list[str] = []
    position = 0
    for finding in findings:
        pieces += (text[position : finding.start], PLACEHOLDERS[finding.kind])
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)


def redact_within(text: str, limit: int) -> str:
    """redact(), at most `limit` characters long. A short email is shorter than its
    placeholder ("a@b.io", "[email]"), so a comment at the form's limit can come out
    longer, and the stream's messages must stay within it. The end is cut, before a
    placeholder rather than through it."""
    redacted = redact(text)
    if len(redacted) <= limit:
        return redacted
    cut = redacted[:limit]
    opening = cut.rfind("[")
    placeholder = PLACEHOLDER.match(redacted, opening) if opening >= 0 else None
    if placeholder is not None and placeholder.end() > limit:
        cut = cut[:opening]
    return cut


def find_personal_data(text: str) -> list[Finding]:
    """The items of personal data in the text, in order, none overlapping another."""
    has_at = "@" in text
    if not has_at and _WORTH_SCANNING.search(text) is None:
        return []
    candidates: list[Finding] = []
    if has_at:
        candidates += (Finding(*match.span(), "email") for match in _EMAIL.finditer(text))
    candidates += _letters_identifiers(text)
    for pattern in (_KAZAKH_PASSPORT, _SERIES_AND_NUMBER):
        candidates += (
            Finding(*match.span(), "id")
            for match in pattern.finditer(text)
            if _near_context(text, *match.span())
        )
    candidates += _numbers(text)
    if not candidates:
        return []
    urls = (
        [match.span() for match in _URL.finditer(text)] if "www." in text or "://" in text else []
    )
    findings: list[Finding] = []
    end = 0
    for finding in sorted(candidates, key=lambda found: (found.start, -found.end)):
        # A URL keeps its digits (a page's address is not personal data), not its emails.
        in_url = finding.kind != "email" and any(
            finding.start < url_end and url_start < finding.end for url_start, url_end in urls
        )
        if finding.start >= end and not in_url:
            findings.append(finding)
            end = finding.end
    return findings


def _letters_identifiers(text: str) -> Iterator[Finding]:
    """AA1234567: found from its seven digits, which are rarer than two letters."""
    for digits in _SEVEN_DIGITS.finditer(text):
        for start in (digits.start() - 3, digits.start() - 2):
            if start >= 0 and _LETTERS_IDENTIFIER.match(text, start):
                yield Finding(start, digits.end(), "id")
                break


def _numbers(text: str) -> Iterator[Finding]:
    """Phones, cards and identifiers among the runs of digits and separators.

    A run the rules do not recognise as a whole is tried in parts split at its spaces,
    longest first, so "талон 5 89161234567" or a phone next to a date is still found;
    an amount ("1 000 000 000") is never split into parts.
    """
    budget = [_MOST_PARTS_JUDGED]
    for match in _NUMBER.finditer(text):
        if budget[0] <= 0:
            return
        if match.end() - match.start() < _FEWEST_DIGITS or _DATE.fullmatch(text, *match.span()):
            continue
        runs = [digits.span() for digits in _DIGITS.finditer(text, *match.span())]
        groups = [text[start:end] for start, end in runs]
        if sum(map(len, groups)) < _FEWEST_DIGITS:
            continue
        number = _Number(text, match.start(), runs, groups, budget)
        first = 0
        while first < len(runs) and budget[0] > 0:
            last, kind = number.longest_from(first)
            if kind is not None:
                start = match.start() if first == 0 else runs[first][0]
                yield Finding(start, runs[last][1], kind)
            if last >= first:
                first = last + 1
                continue
            first += 1
            while first < len(runs) and not number.gaps[first - 1].isspace():
                first += 1


@dataclass(slots=True)
class _Number:
    """One run of digit groups and the gaps between them."""

    text: str
    start: int
    runs: list[tuple[int, int]]
    groups: list[str]
    budget: list[int]  # parts this comment may still judge, shared by its runs
    gaps: list[str] = field(init=False)

    def __post_init__(self) -> None:
        runs = self.runs
        self.gaps = [self.text[runs[i][1] : runs[i + 1][0]] for i in range(len(runs) - 1)]

    def longest_from(self, first: int) -> tuple[int, Kind | None]:
        """The longest part starting at group `first` that is personal data (its last
        group and kind), or an amount to pass over (its last group, no kind), or
        (first - 1, None) when there is neither."""
        runs, groups, gaps = self.runs, self.groups, self.gaps
        international = first == 0 and "+" in self.text[self.start : runs[0][0]]
        for last in range(min(len(runs), first + _MOST_GROUPS) - 1, first - 1, -1):
            if last < len(runs) - 1 and not gaps[last].isspace():
                continue  # parts end where a space parts the groups, never inside "45-67"
            part, part_gaps = groups[first : last + 1], gaps[first:last]
            digits = sum(map(len, part))
            if digits < _FEWEST_DIGITS or self.budget[0] <= 0:
                break
            self.budget[0] -= 1
            if not international and is_amount(part, part_gaps):
                return last, None
            start = self.start if first == 0 else runs[first][0]
            near_context = digits in CONTEXT_LENGTHS and _near_context(
                self.text, start, runs[last][1]
            )
            kind = number_kind(part, part_gaps, international, near_context)
            if kind is not None:
                return last, kind
        return first - 1, None


def _near_context(text: str, start: int, end: int) -> bool:
    """A context word in the characters before the number or just after it."""
    before = text[max(0, start - CONTEXT_BEFORE_CHARACTERS) : start].lower()
    after = text[end : end + CONTEXT_AFTER_CHARACTERS].lower()
    return CONTEXT.search(before) is not None or CONTEXT.search(after) is not None
