"""Redaction rates: how much of the personal data in the test corpora is found, how many
ordinary comments are changed, and what redaction costs per comment.

    .venv/bin/python -m loadtests.redaction_rates

The corpora are tests/redaction_corpus/*.txt: one comment a line, the personal data
marked ⟦kind:text⟧. The figures go into docs/privacy.md by hand; they describe our own
corpus, written with the rules in view, so real comments will fare worse.
"""

# ruff: noqa: RUF001

from __future__ import annotations

import re
import statistics
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from collector.personal_data_patterns import Kind
from collector.redaction import Finding, find_personal_data, redact, redact_within

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "redaction_corpus"
COUNTRIES = ("am", "ru", "kg", "uz", "kz")
MARK = re.compile(r"⟦(email|phone|card|id):(.+?)⟧")
# A comment as long as the widget allows, and one of a typical length with a date, an
# office number and a phone in it.
LONG_COMMENT_CHARACTERS = 1000
TYPICAL_COMMENT = (
    "Ждал 40 минут у окна 4, талон А-045, 12.03.2024. Паспорт готов, звоните 8 916 123-45-67"
)
PLAIN_COMMENT = (
    "Очередь была долгой, но сотрудники вежливые и всё объяснили, спасибо большое за помощь"
)
# The slowest comment found of about 7,000 made of digit groups and separators: every
# run of digits is long enough to judge, and no part of it is personal data.
CRAFTED_COMMENT = ("1\u00a012." * LONG_COMMENT_CHARACTERS)[:LONG_COMMENT_CHARACTERS]


@dataclass(frozen=True, slots=True)
class MarkedComment:
    """A corpus line: the comment as written, and the personal data it holds."""

    text: str
    expected: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class Rates:
    expected: int  # marked items
    detected: int  # marked items wholly inside a redacted span
    exact: int  # marked items redacted exactly, with the right placeholder
    extra: int  # redacted spans that hold no marked item

    @property
    def detection(self) -> float:
        return self.detected / self.expected if self.expected else 1.0


def read_corpus(name: str) -> list[MarkedComment]:
    """One corpus file's comments, less blank lines and # notes."""
    comments: list[MarkedComment] = []
    for line in (CORPUS / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pieces: list[str] = []
        expected: list[Finding] = []
        position = length = 0
        for mark in MARK.finditer(line):
            pieces.append(line[position : mark.start()])
            length += mark.start() - position
            kind, item = cast(Kind, mark.group(1)), mark.group(2)
            expected.append(Finding(length, length + len(item), kind))
            pieces.append(item)
            length += len(item)
            position = mark.end()
        pieces.append(line[position:])
        comments.append(MarkedComment("".join(pieces), tuple(expected)))
    return comments


def rates(comments: list[MarkedComment]) -> Rates:
    expected = detected = exact = extra = 0
    for comment in comments:
        found = find_personal_data(comment.text)
        expected += len(comment.expected)
        exact += len(set(found) & set(comment.expected))
        detected += sum(
            any(f.start <= item.start and item.end <= f.end for f in found)
            for item in comment.expected
        )
        extra += sum(
            not any(f.start <= item.start and item.end <= f.end for item in comment.expected)
            for f in found
        )
    return Rates(expected, detected, exact, extra)


def changed_lines(comments: list[MarkedComment]) -> list[str]:
    """The comments redaction changes (for the ordinary corpus: its false positives)."""
    return [comment.text for comment in comments if redact(comment.text) != comment.text]


def long_comment() -> str:
    """Corpus lines, personal and ordinary alternately, up to the widget's limit."""
    personal = [comment.text for name in COUNTRIES for comment in read_corpus(name)]
    ordinary = [comment.text for comment in read_corpus("ordinary")]
    text = ""
    for index in range(len(ordinary)):
        text += f"{ordinary[index]} {personal[index % len(personal)]} "
        if len(text) >= LONG_COMMENT_CHARACTERS:
            break
    return text[:LONG_COMMENT_CHARACTERS]


def microseconds(text: str, repeats: int = 31, calls: int = 300) -> float:
    """Median over `repeats` runs of the mean time of one redact() call."""
    runs = timeit.repeat(lambda: redact(text), number=calls, repeat=repeats)
    return statistics.median(runs) / calls * 1e6


def main() -> None:
    print(f"{'corpus':<10} {'items':>6} {'detected':>9} {'exact':>6} {'extra':>6}")
    for name in COUNTRIES:
        figures = rates(read_corpus(name))
        print(
            f"{name:<10} {figures.expected:>6} {figures.detection:>9.1%}"
            f" {figures.exact:>6} {figures.extra:>6}"
        )
    ordinary = read_corpus("ordinary")
    changed = changed_lines(ordinary)
    print(
        f"ordinary: {len(changed)} of {len(ordinary)} lines changed"
        f" (false positives {len(changed) / len(ordinary):.1%})"
    )
    for line in changed:
        print(f"  changed: {line}")
    long = long_comment()
    for label, text in (
        (f"{len(long)}-character comment, mixed", long),
        (f"{len(TYPICAL_COMMENT)}-character comment with a phone", TYPICAL_COMMENT),
        (f"{len(PLAIN_COMMENT)}-character comment without numbers", PLAIN_COMMENT),
    ):
        print(f"{label}: {microseconds(text):.1f} µs per comment (median)")
    crafted = statistics.median(
        timeit.repeat(
            lambda: redact_within(CRAFTED_COMMENT, LONG_COMMENT_CHARACTERS), number=10, repeat=31
        )
    )
    print(
        f"{len(CRAFTED_COMMENT)}-character comment written to be slow: {crafted / 10 * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
