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
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from itertools import pairwise

import snowballstemmer  # type: ignore[import-untyped]

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
_APOSTROPHE = "ʻ"
_TO_APOSTROPHE = str.maketrans(dict.fromkeys("'’‘`ʼ", _APOSTROPHE))
# Armenian stress, exclamation and question marks sit over a vowel inside the word.
_ARMENIAN_INTONATION = re.compile("[՛՜՞]")
_SHORTEST_WORD = 2
_STOP_WORD_LANGUAGES = frozenset({"en", "ru", "hy", "ky", "uz", "kk"})
_SNOWBALL_ALGORITHMS = {"en": "english", "ru": "russian", "hy": "armenian"}
# Negators are stop words on their own, but dropping one before its word turns "не работает"
# (does not work) into "работает" (works). So a negator is glued to its word: to the next
# one where it stands before the verb, to the previous one where it follows (the Turkic
# эмес, жок; their verbs carry negation in a suffix already).
_NEGATORS_BEFORE = {
    "en": "not no never nobody don't doesn't didn't can't cannot couldn't won't wouldn't"
    " isn't aren't wasn't weren't hasn't haven't hadn't",
    "ru": "не нет",
    # Not չկա (there is no): it comes before or after its noun alike.
    "hy": "ոչ չի չեմ չես չենք չեք չեն չէի չէիր չէր չէինք չէիք չէին",
}
_NEGATORS_AFTER = {"ky": "эмес жок", "kk": "емес жоқ", "uz": "emas yo'q эмас йўқ"}
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
            tally = tallies[code] = _Tally(_language(code))
        tally.add(text)
    return {code: tallies[code].ranked(limit, minimum_comments) for code in sorted(tallies)}


@dataclass(frozen=True, slots=True)
class _Language:
    stop_words: frozenset[str]
    stem: Callable[[str], str]
    negators: frozenset[str] = frozenset()
    negation_follows: bool = False
    # Letters after which a final apostrophe belongs to the word (Uzbek togʻ).
    apostrophe_ends_after: str = ""


@dataclass(slots=True)
class _Tally:
    """The comments of one language and how many of them hold each term, keyed by stem."""

    language: _Language
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
        word = token.translate(_TO_APOSTROPHE)
        surface = word.strip(_APOSTROPHE)
        ends_after = self.language.apostrophe_ends_after
        if surface and word.endswith(_APOSTROPHE) and surface[-1] in ends_after:
            surface += _APOSTROPHE
        if surface in self.language.negators:
            return surface, _NEGATOR
        if len(surface) - surface.count(_APOSTROPHE) < _SHORTEST_WORD:
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


# Bounded: language codes come from citizens' requests.
@lru_cache(maxsize=64)
def _language(code: str) -> _Language:
    """Stop words, negators and stemmer of one language, built once per process."""
    stop_words = _stop_words(code) if code in _STOP_WORD_LANGUAGES else frozenset()
    negators = frozenset(
        map(_normalised, (_NEGATORS_BEFORE | _NEGATORS_AFTER).get(code, "").split())
    )
    negation_follows = code in _NEGATORS_AFTER
    if code == "hy":
        stem = _armenian_stem(_Snowball("armenian"))
    elif code in _SNOWBALL_ALGORITHMS:
        stem = _Snowball(_SNOWBALL_ALGORITHMS[code])
    else:
        stem = _TURKIC_STEMS.get(code, str)
    apostrophe_ends_after = "og" if code == "uz" else ""
    return _Language(stop_words, stem, negators, negation_follows, apostrophe_ends_after)


def _stop_words(code: str) -> frozenset[str]:
    """One word a line, # comments."""
    text = resources.files("collector").joinpath("stopwords", f"{code}.txt").read_text("utf-8")
    return frozenset(
        _normalised(word) for line in text.splitlines() if (word := line.partition("#")[0].strip())
    )


def _normalised(word: str) -> str:
    """A listed word spelled the way the comments' words are, so that they match."""
    return unicodedata.normalize("NFC", word).casefold().translate(_TO_APOSTROPHE)


class _Snowball:
    """A Snowball stemmer; its objects keep state while stemming, so calls take a lock."""

    __slots__ = ("_lock", "_stemmer")

    def __init__(self, algorithm: str) -> None:
        self._stemmer = snowballstemmer.stemmer(algorithm)
        self._lock = threading.Lock()

    def __call__(self, word: str) -> str:
        # English Snowball knows the possessive 's only with an ASCII apostrophe.
        word = word.replace(_APOSTROPHE, "'")
        with self._lock:
            stem: str = self._stemmer.stemWord(word)
        return stem


def _suffix_table(suffixes: str) -> tuple[tuple[int, frozenset[str]], ...]:
    """Suffixes grouped by length, longest first, for greedy stripping."""
    by_length: dict[int, set[str]] = {}
    for suffix in suffixes.split():
        by_length.setdefault(len(suffix), set()).add(suffix)
    return tuple((length, frozenset(by_length[length])) for length in sorted(by_length)[::-1])


def _strip_suffixes(
    word: str, table: tuple[tuple[int, frozenset[str]], ...], shortest_stem: int = 3
) -> str:
    """Strips up to three suffixes (plural, possessive, case), longest match first.

    Crude on purpose: it knows no vowel harmony, no verbs and no exceptions, and can cut a
    word that merely ends like a suffix. It only has to give the forms of one noun the same
    key, and it does so for the common ones; the shown term is always a real surface form.
    """
    for _ in range(3):
        for length, endings in table:
            if len(word) - length >= shortest_stem and word[-length:] in endings:
                word = word[:-length]
                break
        else:
            break
    return word


# Snowball's Armenian stemmer only strips endings far enough into a word (its R2 region),
# which short nouns never reach: հերթ, հերթը, հերթեր, հերթից (queue) would stay apart.
# The article, plural and common case endings are stripped first.
_ARMENIAN_SUFFIXES = _suffix_table("ը ի ից ով ում եր ներ")


def _armenian_stem(snowball: _Snowball) -> Callable[[str], str]:
    def stem(word: str) -> str:
        return snowball(_strip_suffixes(word, _ARMENIAN_SUFFIXES))

    return stem


_KYRGYZ_SUFFIXES = _suffix_table(
    """
    лар лер лор лөр дар дер дор дөр тар тер тор төр
    нын нин нун нүн дын дин дун дүн тын тин тун түн
    га ге го гө ка ке ко кө на не
    ны ни ну нү ды ди ду дү ты ти ту тү
    да де до дө та те то тө нда нде ндо ндө
    дан ден дон дөн тан тен тон төн нан нен нон нөн
    ым им ум үм ың иң уң үң ыбыз ибиз убуз үбүз ыңыз иңиз уңуз үңүз
    сы си су сү ы и у ү
    """
)
_KAZAKH_SUFFIXES = _suffix_table(
    """
    лар лер дар дер тар тер
    ның нің дың дің тың тің
    ға ге қа ке на не
    ны ні ды ді ты ті
    да де та те нда нде
    дан ден тан тен нан нен
    мен бен пен
    ым ім ың ің ымыз іміз ыңыз іңіз сы сі ы і
    """
)
_UZBEK_SUFFIXES = _suffix_table(
    "lar ning ni ga ka qa da ta dan tan dagi tagi im ing imiz ingiz i si"
)
# A final k, q or p turns voiced before a vowel suffix (Kazakh кезек, кезегі: queue, its
# queue); the stripped stem is turned back so both forms meet.
_KYRGYZ_DEVOICING = {"г": "к", "б": "п"}
_KAZAKH_DEVOICING = {"г": "к", "ғ": "қ", "б": "п"}
_UZBEK_DEVOICING = {"gʻ": "q", "g": "k"}
# Uzbek is also written in Cyrillic; one Latin key lets навбат and navbat meet.
_UZBEK_CYRILLIC_TO_LATIN = str.maketrans(
    {
        **dict(zip("абвгдезийклмнопрстуфхэ", "abvgdeziyklmnoprstufxe", strict=True)),
        **{"ё": "yo", "ж": "j", "ц": "s", "ч": "ch", "ш": "sh", "ъ": _APOSTROPHE, "ь": ""},
        **{"ю": "yu", "я": "ya", "ў": "oʻ", "қ": "q", "ғ": "gʻ", "ҳ": "h"},
    }
)


def _turkic_stem(
    table: tuple[tuple[int, frozenset[str]], ...],
    devoicing: dict[str, str],
    transliteration: dict[int, str] | None = None,
) -> Callable[[str], str]:
    def stem(word: str) -> str:
        if transliteration is not None:
            word = word.translate(transliteration)
        word = _strip_suffixes(word, table)
        for voiced, voiceless in devoicing.items():
            if word.endswith(voiced):
                return word[: -len(voiced)] + voiceless
        return word

    return stem


_TURKIC_STEMS: dict[str, Callable[[str], str]] = {
    "ky": _turkic_stem(_KYRGYZ_SUFFIXES, _KYRGYZ_DEVOICING),
    "kk": _turkic_stem(_KAZAKH_SUFFIXES, _KAZAKH_DEVOICING),
    "uz": _turkic_stem(_UZBEK_SUFFIXES, _UZBEK_DEVOICING, _UZBEK_CYRILLIC_TO_LATIN),
}
