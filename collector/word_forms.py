"""Word forms per language: stop words, negators and stems, so that "очередь",
"очереди" and "очередей" count as one term (collector/recurring_terms.py counts them).

Snowball stems English, Russian and Armenian (Armenian after its article, plural and
case endings are stripped first: Snowball alone leaves հերթ, հերթը, հերթերը apart).
Kyrgyz, Kazakh and Uzbek get a crude stripper of up to three plural, possessive and
case endings, longest first, undoing the voicing of a final consonant; it knows nothing
of verbs or vowel harmony.
"""

# The module's data is Armenian, Cyrillic and Uzbek letters and apostrophes on purpose.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import snowballstemmer  # type: ignore[import-untyped]

APOSTROPHE = "ʻ"
TO_APOSTROPHE = str.maketrans(dict.fromkeys("'’‘`ʼ", APOSTROPHE))
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


@dataclass(frozen=True, slots=True)
class LanguageRules:
    stop_words: frozenset[str]
    stem: Callable[[str], str]
    negators: frozenset[str] = frozenset()
    negation_follows: bool = False
    # Letters after which a final apostrophe belongs to the word (Uzbek togʻ).
    apostrophe_ends_after: str = ""


# Bounded: language codes come from citizens' requests.
@lru_cache(maxsize=64)
def language_rules(code: str) -> LanguageRules:
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
    return LanguageRules(stop_words, stem, negators, negation_follows, apostrophe_ends_after)


def _stop_words(code: str) -> frozenset[str]:
    """One word a line, # comments."""
    text = resources.files("collector").joinpath("stopwords", f"{code}.txt").read_text("utf-8")
    return frozenset(
        _normalised(word) for line in text.splitlines() if (word := line.partition("#")[0].strip())
    )


def _normalised(word: str) -> str:
    """A listed word spelled the way the comments' words are, so that they match."""
    return unicodedata.normalize("NFC", word).casefold().translate(TO_APOSTROPHE)


class _Snowball:
    """A Snowball stemmer; its objects keep state while stemming, so calls take a lock."""

    __slots__ = ("_lock", "_stemmer")

    def __init__(self, algorithm: str) -> None:
        self._stemmer = snowballstemmer.stemmer(algorithm)
        self._lock = threading.Lock()

    def __call__(self, word: str) -> str:
        # English Snowball knows the possessive 's only with an ASCII apostrophe.
        word = word.replace(APOSTROPHE, "'")
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
        **{"ё": "yo", "ж": "j", "ц": "s", "ч": "ch", "ш": "sh", "ъ": APOSTROPHE, "ь": ""},
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
