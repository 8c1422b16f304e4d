"""Redaction of personal data in comments: each format, its boundaries, the per-country
corpora, and the flusher storing only the redacted text."""

# The test data is Armenian and Cyrillic text on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import pytest

from collector.flusher import Flusher
from collector.recurring_terms import recurring_terms
from collector.redaction import Finding, find_personal_data, redact
from collector.redis_clients import flusher_client
from collector.runtime import Runtime
from collector.storage import Storage
from collector.storage.base import CommentQuery
from loadtests.redaction_rates import COUNTRIES, changed_lines, rates, read_corpus
from tests.helpers import add, event


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        # Emails, including an internationalised domain; a bare "@" is no email.
        ("пишите ivan.petrov@mail.ru.", "пишите [email]."),
        ("a.b-c+tag@gov-help.uz", "[email]"),
        ("почта ivan@почта.рф", "почта [email]"),
        ("user@localhost and @gov_bot", "user@localhost and @gov_bot"),
        # Phones with "+" in every country, and 00.
        ("+374 93 123456", "[phone]"),
        ("(+374) 91 45 67 89", "[phone]"),
        ("+7 (916) 123-45-67", "[phone]"),
        ("+996 555 123 456", "[phone]"),
        ("+998 90 123 45 67", "[phone]"),
        ("+44 20 7946 0958", "[phone]"),
        ("00374 91 234567", "[phone]"),
        # Local forms.
        ("8 916 123 45 67", "[phone]"),
        ("89161234567", "[phone]"),
        ("8 (777) 555-66-77", "[phone]"),
        ("9161234567", "[phone]"),
        ("093 12 34 56", "[phone]"),
        ("0555 123 456", "[phone]"),
        ("0312 54 32 10", "[phone]"),
        ("90 123 45 67", "[phone]"),
        ("(90) 123-45-67", "[phone]"),
        ("998 901 234 567", "[phone]"),
        # Toll-free agency lines and short numbers are not a person's.
        ("8-800-100-70-10", "8-800-100-70-10"),
        ("+7 800 555 35 35", "+7 800 555 35 35"),
        ("1414, 112, 103", "1414, 112, 103"),
        # Amounts, however grouped, and short runs.
        ("1 200 000 сум", "1 200 000 сум"),
        ("1 000 000 000 сом", "1 000 000 000 сом"),
        ("555 123 456 сом", "555 123 456 сом"),
        ("15.000.000 драм", "15.000.000 драм"),
        ("+30 градусов", "+30 градусов"),
        # Dates, times, ranges; a phone beside a date is still found.
        ("12.03.2024 10:30", "12.03.2024 10:30"),
        ("2024-03-12, 12/03/2024", "2024-03-12, 12/03/2024"),
        ("21.01.2024-31.12.2024", "21.01.2024-31.12.2024"),
        ("12.03.2024 89161234567", "12.03.2024 [phone]"),
        ("талон 5 89161234567", "талон 5 [phone]"),
        # Cards: Luhn and an issuer prefix, national schemes included.
        ("4111 1111 1111 1111", "[card]"),
        ("4111-1111-1111-1111", "[card]"),
        ("4111111111111111", "[card]"),
        ("8600 5972 9792 6224", "[card]"),
        ("9860 9914 3301 4677", "[card]"),
        ("4111 1111 1111 1112", "4111 1111 1111 1112"),
        ("1111 1111 1111 1117", "1111 1111 1111 1117"),
        # SNILS: checksum, with or without separators.
        ("СНИЛС 112-233-445 95", "СНИЛС [id]"),
        ("11223344595", "[id]"),
        ("112-233-445 96", "112-233-445 96"),
        # INN: 12 digits by checksum alone; 10 digits only beside "ИНН".
        ("500100732259", "[id]"),
        ("500100732258", "500100732258"),
        ("ИНН 7707083893", "ИНН [id]"),
        ("заказ 7707083893", "заказ [phone]"),  # ten digits from 7: a Kazakh mobile
        ("заказ 4707083893", "заказ 4707083893"),
        # IIN: birth date and checksum, or checksum beside "ИИН".
        ("791028302728", "[id]"),
        ("791028302729", "791028302729"),
        ("ИИН 791328302729", "ИИН [id]"),
        ("791328302729", "791328302729"),
        # PINFL: date and check digit, or the date beside "ПИНФЛ"; Kyrgyz PIN: its date.
        ("30704999091005", "[id]"),
        ("30704999091006", "30704999091006"),
        ("ПИНФЛ 30704999091006", "ПИНФЛ [id]"),
        ("21207196300326", "[id]"),
        ("21213196300326", "21213196300326"),
        # Numbers with no checksum need a context word before or just after them.
        ("Паспорт 45 06 123456", "Паспорт [id]"),
        ("45 06 123456", "45 06 123456"),
        ("паспорт серия 4506 № 123456", "паспорт серия [id]"),
        ("Паспорт серия 45 06, номер 123456", "Паспорт серия [id]"),
        ("ՀԾՀ 5102405678", "ՀԾՀ [id]"),
        ("номер 5102405678", "номер 5102405678"),
        ("ID card 009876543", "ID card [id]"),
        ("Жеке куәлік 041234567", "Жеке куәлік [id]"),
        ("order 123456789", "order 123456789"),
        ("N12345678 — мой паспорт", "[id] — мой паспорт"),
        ("заявление N12345678", "заявление N12345678"),
        # Two letters and seven digits.
        ("AA1234567", "[id]"),
        ("(AN 1234567)", "([id])"),
        ("ab1234567", "[id]"),
        ("Паспорт АА 1234567", "Паспорт [id]"),
        ("no 1234567", "no 1234567"),
        ("AAA1234567 AA12345678", "AAA1234567 AA12345678"),
        # Digits glued to letters are codes, not numbers.
        ("тел89161234567", "тел89161234567"),
        ("89161234567руб", "89161234567руб"),
        ("A12345678901", "A12345678901"),
        ("тел.89161234567", "тел.[phone]"),
        # Government URLs stay whole, digits and all.
        ("https://my.gov.uz/ru/service/89161234567", "https://my.gov.uz/ru/service/89161234567"),
        ("www.egov.kz/app/791028302728 и 791028302728", "www.egov.kz/app/791028302728 и [id]"),
        ("https://gov.kz/ask?from=ivan@mail.ru", "https://gov.kz/ask?from=[email]"),
    ],
)
def test_redaction(comment: str, expected: str) -> None:
    assert redact(comment) == expected


def test_findings_are_typed_ordered_spans() -> None:
    text = "ИИН 791028302728, тел +7 701 123 45 67, a@b.kz, 4111 1111 1111 1111"
    assert find_personal_data(text) == [
        Finding(4, 16, "id"),
        Finding(22, 38, "phone"),
        Finding(40, 46, "email"),
        Finding(48, 67, "card"),
    ]


def test_text_with_nothing_to_find_is_returned_as_it_is() -> None:
    text = "Очередь была долгой, но сотрудники вежливые."
    assert redact(text) is text
    assert find_personal_data("") == []


@pytest.mark.parametrize("country", COUNTRIES)
def test_every_marked_item_of_a_country_corpus_is_redacted(country: str) -> None:
    comments = read_corpus(country)
    assert len(comments) >= 25
    assert all(comment.expected for comment in comments)
    wrong = [
        (comment.text, found)
        for comment in comments
        if (found := find_personal_data(comment.text)) != list(comment.expected)
    ]
    assert wrong == []
    assert rates(comments).detection == 1.0


def test_ordinary_comments_are_left_as_they_are() -> None:
    comments = read_corpus("ordinary")
    assert len(comments) >= 150
    assert not any(comment.expected for comment in comments)
    # The budget of false positives on our own corpus is none.
    assert changed_lines(comments) == []


def test_corpus_marks_are_read_with_their_offsets() -> None:
    comment = read_corpus("ru")[0]
    assert comment.text == "Паспорт 45 06 123456 не приняли, сказали ошибка в базе."
    assert comment.expected == (Finding(8, 20, "id"),)
    assert redact(comment.text) == "Паспорт [id] не приняли, сказали ошибка в базе."


def test_placeholders_are_not_recurring_terms() -> None:
    comments = [
        ("en", "Call me on [phone], the queue was long"),
        ("en", "[phone] again, long queue"),
        ("en", "my [id] and [card] and [email]"),
        ("en", "[id] [email] [card]"),
    ]
    terms = recurring_terms(comments)["en"]
    assert [term.term for term in terms] == ["long", "queue"]


async def test_the_flusher_stores_comments_redacted(runtime: Runtime, storage: Storage) -> None:
    flusher = Flusher(
        flusher_client(runtime.settings.redis_url, 50),
        storage,
        consumer="redacting-flusher",
        block_milliseconds=50,
    )
    await flusher.ensure_group()
    await add(
        runtime,
        event(2, comment="Перезвоните +7 916 123-45-67, ИИН 791028302728, ivan@mail.ru"),
        event(5, comment="Всё быстро, 12.03.2024 за 15 минут"),
    )
    assert await flusher.run_once(block=False) == 2
    await flusher.close()
    rows = await storage.comments(CommentQuery(services=("demo-passport",)))
    assert sorted(row.comment for row in rows) == [
        "Всё быстро, 12.03.2024 за 15 минут",
        "Перезвоните [phone], ИИН [id], [email]",
    ]
