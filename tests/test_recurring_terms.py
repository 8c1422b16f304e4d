"""Recurring terms: the problems citizens repeat, per language, with stop words left out."""

# Test data is Armenian, Cyrillic and Uzbek text and apostrophes on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import random
from importlib import resources

import pytest

from collector.recurring_terms import RecurringTerm, recurring_terms

LANGUAGES = ["en", "ru", "hy", "ky", "uz", "kk"]

CORPORA = {
    "en": [
        "Waited in a long queue for three hours, nobody explained anything.",
        "The long queue at window 4 is a disgrace. Staff were rude to my mother.",
        "Long queue again! The website said I had an appointment but they didn't have it.",
        "Rude staff, long queue, and the payment terminal was broken.",
        "I booked online but the website crashed twice before payment.",
        "Very long queue every Monday. Please open more windows.",
        "Staff were rude and the queue did not move for an hour.",
        "Thank you, but the waiting time is far too long.",
    ],
    "ru": [
        "Огромная очередь, ждали два часа.",
        "Очереди каждый день, сотрудники грубят посетителям.",
        "Сайт не работает, записаться онлайн невозможно.",
        "Очень длинная очередь, пожалуйста, откройте ещё окна.",
        "Сотрудники грубые, очередь не двигается.",
        "Снова очередь. Сайт не работает с утра.",
        "Из-за очередей потеряла целый день на работе.",
        "Спасибо, но электронная очередь постоянно зависает.",
    ],
    "hy": [
        "Երկար հերթ էր, սպասեցինք երկու ժամ։",
        "Հերթերը շատ երկար են, աշխատակիցները կոպիտ են:",
        "Կայքը չի աշխատում, հերթագրվել հնարավոր չէ։",
        "Ամեն անգամ երկար հերթ, խնդրում եմ բացեք ևս մեկ պատուհան։",
        "Աշխատակիցը կոպիտ էր և ոչինչ չբացատրեց։",
        "Կայքը չի աշխատում արդեն երկու օր։",
        "Հերթում սպասեցինք երեք ժամ։",
    ],
    "ky": [
        "Кезек өтө узун, эки саат күттүк.",
        "Кезекте үч саат турдук, кызматкерлер орой сүйлөйт.",
        "Сайт иштебейт, онлайн катталуу мүмкүн эмес.",
        "Ар дайым кезек, терезелер аз.",
        "Кызматкерлер орой, эч нерсе түшүндүрүшпөйт.",
        "Сайт иштебейт, эки күндөн бери.",
        "Узун кезекте турдук, маалымат жок.",
    ],
    "uz": [
        "Navbat juda uzun, ikki soat kutdik.",
        "Navbatda uch soat turdik, xodimlar qo'pol gapirishadi.",
        "Sayt ishlamaydi, onlayn roʻyxatdan oʻtib boʻlmaydi.",
        "Har doim navbat, oynalar kam.",
        "Xodimlar qoʻpol, hech narsa tushuntirishmaydi.",
        "Навбат жуда катта, сайт ишламайди.",
        "Uzun navbatda turdik, maʼlumot yoʻq.",
        "Rahmat, lekin navbat tizimi ishlamaydi.",
    ],
    "kk": [
        "Кезек өте ұзын, екі сағат күттік.",
        "Кезекте үш сағат тұрдық, қызметкерлер дөрекі сөйлейді.",
        "Сайт жұмыс істемейді, онлайн жазылу мүмкін емес.",
        "Әрқашан кезек, терезелер аз.",
        "Қызметкерлер дөрекі, ештеңе түсіндірмейді.",
        "Сайт жұмыс істемейді, екі күннен бері.",
        "Ұзын кезекте тұрдық, ақпарат жоқ.",
    ],
}

# Everything that recurs in each corpus, most frequent first. Word forms meet under one
# term (очередей counts for очередь, кезекте for кезек, Навбат for navbat), and a pair
# that covers its words replaces them ("long queue" hides "long" and "queue").
EXPECTED = {
    "en": [
        ("long queue", 5),
        ("rude", 3),
        ("staff", 3),
        ("hour", 2),
        ("payment", 2),
        ("staff rude", 2),
        ("waited", 2),
        ("website", 2),
        ("window", 2),
    ],
    "ru": [("очередь", 7), ("сайт не работает", 2), ("сотрудники грубые", 2)],
    "hy": [
        ("հերթ", 4),
        ("երկար", 3),
        ("աշխատակիցը կոպիտ", 2),
        ("երկար հերթ", 2),
        ("կայքը չի աշխատում", 2),
        ("հերթ սպասեցինք", 2),
        ("սպասեցինք ժամ", 2),
    ],
    "ky": [
        ("кезек", 4),
        ("кызматкерлер орой", 2),
        ("саат", 2),
        ("сайт иштебейт", 2),
        ("турдук", 2),
        ("узун", 2),
    ],
    "uz": [
        ("navbat", 6),
        ("ishlamaydi", 3),
        ("soat", 2),
        ("turdik", 2),
        ("uzun", 2),
        ("xodimlar qoʻpol", 2),
        ("сайт ишламайди", 2),
    ],
    "kk": [
        ("кезек", 4),
        ("жұмыс істемейді", 2),
        ("сайт жұмыс", 2),
        ("сағат", 2),
        ("тұрдық", 2),
        ("қызметкерлер дөрекі", 2),
        ("ұзын", 2),
    ],
}

# Negators are stop words, but they stay glued to the word they negate.
NEGATORS = {
    "en": {"not", "didnʻt", "nobody"},
    "ru": {"не"},
    "hy": {"չի"},
    "ky": {"жок"},
    "uz": {"yoʻq"},
    "kk": {"жоқ"},
}


def stop_words(language: str) -> set[str]:
    text = resources.files("collector").joinpath("stopwords", f"{language}.txt").read_text()
    words = (line.partition("#")[0].strip() for line in text.splitlines())
    return {word.replace("'", "ʻ") for word in words if word}


def found(comments: list[tuple[str, str]], **options: int) -> dict[str, list[tuple[str, int]]]:
    """Terms and counts only, for comparing whole results."""
    result = recurring_terms(comments, **options)
    return {language: [(t.term, t.comments) for t in terms] for language, terms in result.items()}


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_finds_its_recurring_problems(language: str) -> None:
    comments = [(language, text) for text in CORPORA[language]]
    assert found(comments, limit=20) == {language: EXPECTED[language]}


@pytest.mark.parametrize("language", LANGUAGES)
def test_stop_words_never_appear(language: str) -> None:
    comments = [(language, text) for text in CORPORA[language]]
    terms = recurring_terms(comments, limit=1000, minimum_comments=1)[language]
    assert len(terms) >= 10
    listed = stop_words(language)
    for term in terms:
        words = term.term.split(" ")
        assert [word for word in words if word in listed and word not in NEGATORS[language]] == []
        assert not set(words) <= listed


@pytest.mark.parametrize("language", LANGUAGES)
def test_stop_word_files_are_lower_case_and_without_repeats(language: str) -> None:
    text = resources.files("collector").joinpath("stopwords", f"{language}.txt").read_text()
    words = [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]
    assert [word for word in words if word != word.lower() or " " in word] == []
    assert len(words) == len(set(words))
    if language in {"hy", "ky", "uz", "kk"}:
        assert 80 <= len(words) <= 250


def test_russian_word_forms_are_one_term_shown_as_written_most() -> None:
    comments = ["Огромная очередь", "Очереди каждый день", "Сколько очередей!", "Опять очереди"]
    assert found([("ru", text) for text in comments]) == {"ru": [("очереди", 4)]}


def test_result_fields() -> None:
    comments = [("en", "Long queue."), ("en", "Rude staff."), ("en", "The queue is long")]
    examples = ("Long queue.", "The queue is long")
    assert recurring_terms(comments)["en"] == [
        RecurringTerm(term="long", comments=2, share=0.6667, examples=examples),
        RecurringTerm(term="queue", comments=2, share=0.6667, examples=examples),
    ]


@pytest.mark.parametrize(
    ("comments", "expected"),
    [
        # The pair is in every comment its words are in: only the pair is shown.
        (["long queue", "a long queue today", "Long queues!"], [("long queue", 3)]),
        # "queue" is in 5 comments, "long queue" in 4: 4 of 5 is enough to hide "queue".
        (
            ["long queue", "long queue", "a long queue", "long queue again", "queue"],
            [("long queue", 4)],
        ),
        # 3 of 5 is not: "queue" names a wider problem and stays, above the pair.
        (
            ["long queue", "long queue", "a long queue", "queue again", "queue"],
            [("queue", 5), ("long queue", 3)],
        ),
    ],
)
def test_a_pair_replaces_its_words_when_it_covers_them(
    comments: list[str], expected: list[tuple[str, int]]
) -> None:
    assert found([("en", text) for text in comments]) == {"en": expected}


@pytest.mark.parametrize("separator", [". ", "! ", "? ", "; ", "\n", ": ", "… ", "։ "])
def test_a_pair_never_spans_a_sentence_boundary(separator: str) -> None:
    comments = [("en", f"long{separator}queue"), ("en", f"Long{separator}Queue")]
    assert found(comments) == {"en": [("long", 2), ("queue", 2)]}


def test_a_comma_is_no_sentence_boundary() -> None:
    assert found([("en", "long, queue"), ("en", "long, queue")]) == {"en": [("long queue", 2)]}


def test_a_term_counts_once_per_comment() -> None:
    comments = [("en", "Queue, queue, queue. Queues everywhere, queue!"), ("en", "queue")]
    result = recurring_terms(comments)
    assert [(t.term, t.comments, t.share) for t in result["en"]] == [("queue", 2, 1.0)]


@pytest.mark.parametrize(
    ("minimum_comments", "expected"),
    [
        (1, [("queue", 3), ("website", 2), ("rude", 1)]),
        (2, [("queue", 3), ("website", 2)]),
        (3, [("queue", 3)]),
        (4, []),
    ],
)
def test_minimum_comments(minimum_comments: int, expected: list[tuple[str, int]]) -> None:
    comments = ["queue", "queue; website", "queue. Website!", "rude"]
    result = found([("en", text) for text in comments], minimum_comments=minimum_comments)
    assert result == {"en": expected}


def test_minimum_comments_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="minimum_comments must be at least 1, not 0"):
        recurring_terms([("en", "queue")], minimum_comments=0)


@pytest.mark.parametrize(
    ("limit", "expected"), [(0, []), (1, [("queue", 3)]), (2, [("queue", 3), ("website", 2)])]
)
def test_limit(limit: int, expected: list[tuple[str, int]]) -> None:
    comments = ["queue", "queue; website", "queue. Website!", "rude. Staff"]
    assert found([("en", text) for text in comments], limit=limit) == {"en": expected}


def test_examples_are_the_first_two_different_comments_cut_at_a_word() -> None:
    long_comment = " ".join(["long queue"] * 20)  # 219 characters
    comments = [
        ("en", "Long   queue\n\nagain."),
        ("en", "Long queue again."),
        ("en", "long queue again."),
        ("en", long_comment),
        ("en", "a" * 200 + " long queue"),
    ]
    # The first comment, on one line, reads as the second: it is not shown twice.
    result = recurring_terms(comments, limit=1)["en"]
    assert [(t.term, t.examples) for t in result] == [
        ("long queue", ("Long queue again.", "long queue again."))
    ]

    cut = recurring_terms([("en", long_comment), ("en", "a" * 200 + " long queue")])["en"]
    assert cut[0].examples == ("long queue " * 14 + "long…", "a" * 159 + "…")
    assert [len(example) for example in cut[0].examples] == [159, 160]


def test_ties_are_broken_by_term_whatever_the_input_order() -> None:
    comments = [("en", text) for text in ["window", "queue", "website", "queue window website"]]
    shuffled = comments[:]
    random.Random(7).shuffle(shuffled)
    expected = {"en": [("queue", 2), ("website", 2), ("window", 2)]}
    assert found(comments) == expected
    assert found(shuffled) == expected
    assert found(comments[::-1]) == expected


def test_no_input_and_blank_comments_give_nothing() -> None:
    assert recurring_terms([]) == {}
    assert recurring_terms(iter([("en", ""), ("ru", "  \n ")])) == {}


def test_a_language_that_repeats_nothing_maps_to_an_empty_list() -> None:
    assert recurring_terms([("en", "queue"), ("en", "website"), ("en", "...")]) == {"en": []}


def test_shares_are_of_the_comments_of_that_language() -> None:
    comments = [("en", "queue"), ("ru", "очередь"), ("en", "queue"), ("en", "rude")]
    comments += [("ru", "очередь"), ("ru", "очередь")]
    result = recurring_terms(comments)
    assert {lang: [(t.term, t.share) for t in terms] for lang, terms in result.items()} == {
        "en": [("queue", 0.6667)],
        "ru": [("очередь", 1.0)],
    }


def test_unknown_language_has_no_stop_words_and_no_stemming() -> None:
    comments = ["Die Warteschlange ist lang", "Warteschlangen", "Die Warteschlange!"]
    assert found([("de", text) for text in comments]) == {"de": [("die warteschlange", 2)]}


def test_language_codes_are_their_primary_subtag() -> None:
    comments = [
        ("RU", "Очередь"),
        ("ru-RU", "очередь"),
        ("uz_Cyrl", "навбат"),
        ("uz-Latn", "navbat"),
    ]
    assert found(comments) == {"ru": [("очередь", 2)], "uz": [("navbat", 2)]}


def test_numbers_and_one_letter_words_are_dropped() -> None:
    comments = [("en", "Window 4 closed at 10:30 x"), ("en", "window 4 closed")]
    assert found(comments, minimum_comments=1) == {"en": [("window closed", 2)]}


@pytest.mark.parametrize("apostrophe", ["'", "‘", "’", "`", "ʻ", "ʼ"])
def test_uzbek_apostrophes_are_one_letter(apostrophe: str) -> None:
    comments = [("uz", f"Xodimlar qo{apostrophe}pol"), ("uz", "qoʻpol xodimlar")]
    assert found(comments) == {"uz": [("qoʻpol", 2), ("xodimlar", 2)]}


def test_uzbek_keeps_a_final_apostrophe_after_o_and_g() -> None:
    comments = [("uz", "Bog' yopiq"), ("uz", "bogʻ yopiq, 'iltimos'")]
    assert found(comments) == {"uz": [("bogʻ yopiq", 2)]}


def test_uzbek_latin_and_cyrillic_forms_meet() -> None:
    comments = [("uz", "Navbatlar uzun"), ("uz", "Навбат узун"), ("uz", "navbat uzun")]
    assert found(comments) == {"uz": [("navbat uzun", 3)]}


@pytest.mark.parametrize(
    ("language", "comments", "expected"),
    [
        # The negator joins the verb after it, reaching over stop words.
        (
            "ru",
            ["Сайт не работает", "Не работает оплата", "Оплата не очень проходит", "Работает"],
            [("не работает", 2), ("оплата", 2)],
        ),
        (
            "en",
            ["The app doesn't work", "It didn't work", "Payment does not work"],
            [("not work", 3)],
        ),
        ("hy", ["Կայքը չի աշխատում", "Չի աշխատում"], [("չի աշխատում", 2)]),
        # Turkic negators follow their word, and only negate a word right before them.
        ("ky", ["Маалымат жок", "маалымат жок болчу"], [("маалымат жок", 2)]),
        ("ky", ["Катталуу мүмкүн эмес", "катталуу мүмкүн эмес"], [("катталуу", 2)]),
        ("kk", ["Ақпарат жоқ", "ақпарат жоқ"], [("ақпарат жоқ", 2)]),
        ("uz", ["Maʼlumot yo'q", "ma'lumot yoʻq"], [("maʻlumot yoʻq", 2)]),
    ],
)
def test_negators_stay_with_the_word_they_negate(
    language: str, comments: list[str], expected: list[tuple[str, int]]
) -> None:
    assert found([(language, text) for text in comments]) == {language: expected}
