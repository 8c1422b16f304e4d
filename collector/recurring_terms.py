"""Recurring terms: the words and phrases that many low-star comments repeat.

An executive reads the top of each language's list instead of every comment. Terms are
counted once per comment; word forms are grouped by stem; stop words are left out, but a
negator stays with its word ("не работает"); a phrase of two words replaces its single words
when it accounts for nearly all of their comments.
"""

# The module's data is Armenian, Cyrillic and Uzbek letters and apostrophes on purpose.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise

from collector.redaction import PLACEHOLDER
from collector.word_forms import APOSTROPHE, TO_APOSTROPHE, LanguageRules, language_rules

EXAMPLE_MAXIMUM_CHARACTERS = 160
EXAMPLES_PER_TERM = 2
# A single word is dropped when one of its two-word phrases appears in at least this share
# of the word's comments: "queue" in 10 comments beside "long queue" in 9 adds nothing,
# but "queue" in 10 beside "long queue" in 4 names a wider problem and stays.
BIGRAM_COVERAGE = 0.8

# Letters of any script. ʻ and ʼ are letters to Unicode (modifier letters), so Uzbek oʻ
# and gʻ typed with them already hold together; the other apostrophes only count between
# letters, or at the end where Uzbek needs them (togʻ, bogʻ).
_WORD = re.compile(r"[^\W\d_]+(?:['’‘`]+[^\W\d_]+)*['’‘`]?")
# Armenian ends a sentence with ։ and many people type : for it on Latin keyboards.
_SENTENCE_BREAK = re.compile(r"[.!?;:…։\n\r\u2028\u2029]")
# Armenian stress, exclamation and question marks sit over a vowel inside the word.
_ARMENIAN_INTONATION = re.compile("[՛՜՞]")
_SHORTEST_WORD = 2
# Keys that no word can have: letters only ever make up a word's stem.
_NEGATOR = "\x00"
_NEGATED = "¬"


@dataclass(frozen=True, slots=True)
class RecurringTerm:
    """One recurring word or phrase of one language."""

    term: str
    comments: int
    share: float
    examples: tuple[str, ...]


def recurring_terms(
    comments: Iterable[tuple[str, str]], *, limit: int = 15, minimum_comments: int = 2
) -> dict[str, list[RecurringTerm]]:
    """comments: (language, text) pairs. Returns, per language, the most frequent terms and
    phrases, most frequent first.

    Languages are keyed by their primary subtag ("uz-Cyrl" counts as "uz"); a language whose
    comments repeat nothing maps to an empty list. Blank comments are not analysed.
    """
    if minimum_comments < 1:
        raise ValueError(f"minimum_comments must be at least 1, not {minimum_comments}")
    tallies: dict[str, _Tally] = {}
    for language, text in comments:
        if not text.strip():
            continue
        code = language.strip().casefold().replace("_", "-").partition("-")[0]
        tally = tallies.get(code)
        if tally is None:
            tally = tallies[code] = _Tally(language_rules(code))
        tally.add(text)
    return {code: tallies[code].ranked(limit, minimum_comments) for code in sorted(tallies)}


@dataclass(slots=True)
class _Tally:
    """The comments of one language and how many of them hold each term, keyed by stem."""

    language: LanguageRules
    texts: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    # Raw token -> (surface, stem), or None for a dropped token; comments repeat words.
    words: dict[str, tuple[str, str] | None] = field(default_factory=dict)

    def add(self, text: str) -> None:
        self.texts.append(text)
        keys: set[str] = set()
        for _, sentence_keys in self._sentences(text):
            keys.update(sentence_keys)
            keys.update(map(" ".join, pairwise(sentence_keys)))
        self.counts.update(keys)

    def _terms(self, text: str) -> dict[str, str]:
        """Stem key -> the surface form the comment used first, for words and word pairs."""
        keys: list[str] = []
        surfaces: list[str] = []
        for sentence_surfaces, sentence_keys in self._sentences(text):
            keys += sentence_keys
            keys += map(" ".join, pairwise(sentence_keys))
            surfaces += sentence_surfaces
            surfaces += map(" ".join, pairwise(sentence_surfaces))
        # Built backwards, so a key's first surface form is the one that stays.
        return dict(zip(reversed(keys), reversed(surfaces), strict=True))

    def _sentences(self, text: str) -> Iterator[tuple[list[str], list[str]]]:
        """Surface forms and stem keys of the kept words, one sentence at a time."""
        folded = unicodedata.normalize("NFC", text).casefold()
        folded = _ARMENIAN_INTONATION.sub("", folded)
        # "[phone]" and "[id]" are redaction's placeholders, not words the citizen wrote.
        folded = PLACEHOLDER.sub(" ", folded)
        known = self.words
        for sentence in _SENTENCE_BREAK.split(folded):
            tokens = _WORD.findall(sentence)
            for token in set(tokens).difference(known):
                known[token] = self._word(token)
            words = list(map(known.__getitem__, tokens))
            kept = [word for word in words if word is not None]
            keys = [key for _, key in kept]
            if _NEGATOR in keys:
                kept = self._glue_negators(words)
                keys = [key for _, key in kept]
            if keys:
                yield [surface for surface, _ in kept], keys

    def _glue_negators(self, words: list[tuple[str, str] | None]) -> list[tuple[str, str]]:
        """Kept words with each negator joined to the word it negates, or dropped.

        A negator before its word reaches over stop words ("не очень вежливый" gives
        "не вежливый"); one after its word takes only the word right before it, since
        after a stop word it negates that one (мүмкүн эмес: not possible).
        """
        glued: list[tuple[str, str]] = []
        pending = ""
        previous_kept = False
        for word in words:
            if word is None:
                previous_kept = False
                continue
            surface, key = word
            if key != _NEGATOR:
                if pending:
                    surface, key, pending = f"{pending} {surface}", _NEGATED + key, ""
                glued.append((surface, key))
                previous_kept = True
            elif not self.language.negation_follows:
                pending = surface
            elif previous_kept:
                previous_surface, previous_key = glued[-1]
                glued[-1] = (f"{previous_surface} {surface}", _NEGATED + previous_key)
                previous_kept = False
        return glued

    def _word(self, token: str) -> tuple[str, str] | None:
        word = token.translate(TO_APOSTROPHE)
        surface = word.strip(APOSTROPHE)
        ends_after = self.language.apostrophe_ends_after
        if surface and word.endswith(APOSTROPHE) and surface[-1] in ends_after:
            surface += APOSTROPHE
        if surface in self.language.negators:
            return surface, _NEGATOR
        if len(surface) - surface.count(APOSTROPHE) < _SHORTEST_WORD:
            return None
        if surface in self.language.stop_words:
            return None
        return surface, self.language.stem(surface)

    def ranked(self, limit: int, minimum_comments: int) -> list[RecurringTerm]:
        counts = {
            key: n
            for key, n in self.counts.items()
            if n >= minimum_comments and not _repeats_one_word(key)
        }
        covered = {
            word
            for key, n in counts.items()
            if " " in key
            for word in key.split(" ")
            if word in counts and n >= counts[word] * BIGRAM_COVERAGE
        }
        by_count = sorted((key for key in counts if key not in covered), key=counts.__getitem__)
        by_count.reverse()
        if limit <= 0 or not by_count:
            return []
        # Ties are broken by the shown term, so every term tied with the last place is a
        # candidate; their surface forms and examples take a second pass over the comments,
        # which is cheaper than keeping them for every term in the first.
        lowest = counts[by_count[min(limit, len(by_count)) - 1]]
        candidates = {key for key in by_count if counts[key] >= lowest}
        surfaces: dict[str, Counter[str]] = {key: Counter() for key in candidates}
        examples: dict[str, list[str]] = {key: [] for key in candidates}
        for text in self.texts:
            terms = self._terms(text)
            for key in candidates.intersection(terms):
                surfaces[key][terms[key]] += 1
                if len(examples[key]) < EXAMPLES_PER_TERM:
                    example = _excerpt(text)
                    if example not in examples[key]:
                        examples[key].append(example)
        # The shown term is the form most comments used; on a tie the shorter form, which is
        # more often the plain one (очередь before очереди), then the alphabetically first.
        shown = {
            key: min(forms.items(), key=lambda form: (-form[1], len(form[0]), form[0]))[0]
            for key, forms in surfaces.items()
        }
        ranked = sorted(candidates, key=lambda key: (-counts[key], shown[key]))[:limit]
        return [
            RecurringTerm(
                term=shown[key],
                comments=counts[key],
                share=round(counts[key] / len(self.texts), 4),
                examples=tuple(examples[key]),
            )
            for key in ranked
        ]


def _repeats_one_word(key: str) -> bool:
    """A pair of the same stem ("очередь, очереди") says no more than the word."""
    first, space, second = key.partition(" ")
    return bool(space) and first == second


def _excerpt(text: str, maximum: int = EXAMPLE_MAXIMUM_CHARACTERS) -> str:
    """The text on one line, cut at a word boundary to at most `maximum` characters."""
    flat = " ".join(text.split())
    if len(flat) <= maximum:
        return flat
    cut = flat[: maximum - 1]  # room for the ellipsis
    if not flat[maximum - 1].isspace() and " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:!?-–—") + "…"
