"""Personal data patterns: what a run of digits in a comment is, judged by its digits and
the way they are grouped (collector/redaction.py finds the runs and replaces them).

Checksums are verified where the format has one: card numbers (Luhn), Russian SNILS and
INN, Kazakhstan's IIN, Uzbekistan's PINFL (JShShIR). Formats without one (a Russian
passport's series and number, Armenia's public service number and ID card, 9-digit ID
card and taxpayer numbers) are only taken when a context word ("паспорт", "ИНН",
"ՀԾՀ" ...) stands near them, so order numbers and amounts stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

Kind = Literal["email", "phone", "card", "id"]

# Context words, lowercase: before (or just after) a number that has no checksum of its
# own, they make it an identifier. Stems match inside longer words (загранпаспорт,
# անձնագրի); the short acronyms only as whole words (not "инн" in "длинный").
_CONTEXT_STEMS = (
    "паспорт", "passport", "pasport", "անձնագ", "серия", "seriya", "удостоверени",
    "куәлі", "төлқұжат", "идентификацион", "identification number", "соцкарт",
    "социальная карт", "социальной карт", "социальную карт", "social card",
    "սոցիալական քարտ", "նույնականացման", "հանրային ծառայությունների", "жеке номер",
    "shaxsiy raqam", "жеке сәйкестендіру", "id card", "id-card", "id карт", "id-карт",
    "id karta", "id-karta", "id қарт", "id-қарт", "id քարտ",
)  # fmt: skip
_CONTEXT_WORDS = (
    "инн", "inn", "tin", "иин", "iin", "жсн", "снилс", "snils", "пинфл", "pinfl", "жшшир",
    "jshshir", "стир", "stir", "пин", "pin", "ssn", "հծհ",
)  # fmt: skip
# Searched in lowercased windows around a number. The lookahead on the first letters
# lets the scan skip other characters at once (five times faster than the bare
# alternation, which re tries branch by branch at every position).
CONTEXT = re.compile(
    "(?=[{}])(?:{}|\\b(?:{})\\b)".format(
        "".join(sorted({word[0] for word in _CONTEXT_STEMS + _CONTEXT_WORDS})),
        "|".join(map(re.escape, _CONTEXT_STEMS)),
        "|".join(map(re.escape, _CONTEXT_WORDS)),
    )
)
CONTEXT_BEFORE_CHARACTERS = 50
# Digit counts of the numbers that can be identifiers through a context word.
CONTEXT_LENGTHS = frozenset({9, 10, 12, 14})
CONTEXT_AFTER_CHARACTERS = 25

# Toll-free service lines (8-800 in Russia and Kazakhstan, 0800 in Kyrgyzstan and
# Armenia) belong to an agency, not a person: a complaint naming one keeps it.
_TOLL_FREE_PREFIXES = ("8800", "7800", "0800")
# Uzbek mobile operators' codes, for 9-digit numbers written without separators.
_UZBEK_MOBILE_CODES = frozenset(
    {"33", "50", "55", "77", "88", "90", "91", "93", "94", "95", "97", "98", "99"}
)
# Issuer prefixes of payment cards: the international schemes start with 2-6; the
# national ones are Uzcard 8600, Humo 9860, Elcard (Kyrgyzstan) 9417, ArCa (Armenia) 9051.
_NATIONAL_CARD_PREFIXES = ("8600", "9860", "9417", "9051")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Two-digit years a Russian passport blank can carry in its series (digits 3-4): blanks
# of the current design are made since 1997.
_PASSPORT_BLANK_YEARS = frozenset({97, 98, 99, *range(0, 40)})


def number_kind(
    groups: Sequence[str], gaps: Sequence[str], international: bool, near_context: bool
) -> Kind | None:
    """What a number written as `groups` of digits separated by `gaps` is, if personal.

    international: it began with "+". near_context: a context word stands near it.
    Amounts are the caller's to rule out first (is_amount).
    """
    digits = "".join(groups)
    length = len(digits)
    if _holds_date(groups, gaps):
        return None
    if international:
        toll_free = digits.startswith(("7800", "996800", "374800"))
        return "phone" if 8 <= length <= 15 and not toll_free else None
    if near_context and _context_identifier(digits, groups):
        return "id"
    if digits.startswith(_TOLL_FREE_PREFIXES) or (length == 10 and digits.startswith("800")):
        return None
    if _local_phone(digits, groups):
        return "phone"
    if _checked_identifier(digits, groups):
        return "id"
    if 13 <= length <= 19 and _payment_card(digits):
        return "card"
    return None


def _holds_date(groups: Sequence[str], gaps: Sequence[str]) -> bool:
    """12.03.2024, 2024-03-12 or 12.03.24 anywhere in the number: a date, and the
    number is then a date range or a date glued to something, never one item."""
    for index in range(len(groups) - 2):
        first, second = gaps[index], gaps[index + 1]
        if first != second or first not in (".", "/", "-"):
            continue
        a, b, c = groups[index : index + 3]
        if len(a) == 4 and len(b) <= 2 and len(c) <= 2 and _valid_day(int(c), int(b)):
            return True
        year = len(c) == 4 or (len(c) == 2 and first == ".")
        if year and len(a) <= 2 and len(b) <= 2 and _valid_day(int(a), int(b)):
            return True
    return False


def is_amount(groups: Sequence[str], gaps: Sequence[str]) -> bool:
    """1 200 000 or 15.000: thousands separated by one space, dot or apostrophe (and
    not a phone number with its country code, 998 901 234 567, which looks the same)."""
    digits = "".join(groups)
    if (len(digits) == 12 and digits.startswith(("996", "998"))) or (
        len(digits) == 11 and digits.startswith("374")
    ):
        return False
    if len(groups) < 2 or not 1 <= len(groups[0]) <= 3 or groups[0].startswith("0"):
        return False
    if len(set(gaps)) != 1 or gaps[0] not in (" ", "\u00a0", ".", "'"):
        return False
    return all(len(group) == 3 for group in groups[1:])


def _local_phone(digits: str, groups: Sequence[str]) -> bool:
    """A phone number written without "+", in the ways people here write them."""
    length = len(digits)
    lengths = tuple(map(len, groups))
    if digits.startswith("00") and 10 <= length <= 17:  # 00 374 ..., 00 998 ...
        return True
    if length == 11:
        # 8 or 7 and ten digits (Russia, Kazakhstan); 374 and eight digits (Armenia).
        return (digits[0] in "78" and digits[1] in "3456789") or digits.startswith("374")
    if length == 12:  # Kyrgyzstan and Uzbekistan with their country code and no "+"
        return digits.startswith(("996", "998"))
    if length == 10:
        # 9xx mobile (Russia), 7xx (Kazakhstan), 0 and nine digits (Kyrgyzstan), or an
        # area code written as 495 123-45-67.
        return digits[0] in "079" or lengths == (3, 3, 2, 2)
    if length == 9:
        # 0 and eight digits (Armenia); 90 123 45 67 (Uzbekistan); 555 12 34 56
        # (Kyrgyzstan without its 0); an Uzbek mobile written as one run.
        return (
            digits[0] == "0"
            or lengths in ((2, 3, 2, 2), (3, 2, 2, 2))
            or (lengths in ((9,), (2, 7)) and digits[:2] in _UZBEK_MOBILE_CODES)
        )
    return False


def _context_identifier(digits: str, groups: Sequence[str]) -> bool:
    """Numbers that only count as identifiers next to a context word."""
    length = len(digits)
    lengths = tuple(map(len, groups))
    if length == 10 and lengths == (10,):
        # Armenia's public service number, a Russian passport or organisation's INN
        # written as one run: none of them is checked by its digits here.
        return True
    if length == 10 and lengths in ((4, 6), (2, 2, 6)):
        # A Russian passport: series (region, blank's year) and number.
        return int(digits[2:4]) in _PASSPORT_BLANK_YEARS
    if length == 9 and lengths in ((9,), (2, 7)):
        # Armenian and Kazakh ID cards, Uzbek STIR, a Russian travel passport (75 1234567).
        return True
    if length == 12:  # an IIN issued since 2013 need not start with the birth date
        return _iin_checksum(digits)
    if length == 14:  # a PINFL or Kyrgyz PIN whose check digit we do not know
        return _pinfl_date(digits) or _kyrgyz_pin(digits)
    return False


def _checked_identifier(digits: str, groups: Sequence[str]) -> bool:
    """Identifiers whose checksum (or embedded date) sets them apart from other numbers."""
    length = len(digits)
    if length == 11:
        lengths = tuple(map(len, groups))
        return lengths in ((11,), (3, 3, 3, 2), (9, 2)) and snils_valid(digits)
    if length == 12:
        return iin_valid(digits) or inn_valid(digits)
    if length == 14:
        return pinfl_valid(digits) or _kyrgyz_pin(digits)
    return False


def _payment_card(digits: str) -> bool:
    issued = digits[0] in "23456" or digits.startswith(_NATIONAL_CARD_PREFIXES)
    return issued and luhn_valid(digits)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, character in enumerate(reversed(digits)):
        value = ord(character) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def snils_valid(digits: str) -> bool:
    """Russia's SNILS, NNN-NNN-NNN CC: weights 9..1 over the nine digits, the sum modulo
    101, where 100 is written 00. Numbers up to 001-001-998 carry no checksum and are
    not taken."""
    if len(digits) != 11 or int(digits[:9]) <= 1_001_998:
        return False
    total = sum(
        int(digit) * weight for digit, weight in zip(digits[:9], range(9, 0, -1), strict=True)
    )
    return total % 101 % 100 == int(digits[9:])


_INN_WEIGHTS = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _inn_digit(digits: str, weights: Sequence[int]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_valid(digits: str) -> bool:
    """Russia's INN: 12 digits (a person) with two check digits, or 10 (an organisation)
    with one; weighted sums modulo 11, then modulo 10."""
    if len(digits) == 12:
        return _inn_digit(digits, _INN_WEIGHTS[1:]) == int(digits[10]) and _inn_digit(
            digits, _INN_WEIGHTS
        ) == int(digits[11])
    if len(digits) == 10:
        return _inn_digit(digits, _INN_WEIGHTS[2:]) == int(digits[9])
    return False


def _iin_checksum(digits: str) -> bool:
    """Kazakhstan's IIN check digit: weights 1..11 modulo 11; a remainder of 10 is
    recomputed with weights 3..11, 1, 2; a second 10 means no IIN has these digits."""
    if len(digits) != 12:
        return False
    values = [int(digit) for digit in digits[:11]]
    check = sum(value * weight for value, weight in zip(values, range(1, 12), strict=True)) % 11
    if check == 10:
        weights = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
        check = sum(value * weight for value, weight in zip(values, weights, strict=True)) % 11
    return check == int(digits[11])


def iin_valid(digits: str) -> bool:
    """An IIN with its birth date YYMMDD and century-and-sex digit (1-6) in place."""
    if len(digits) != 12 or digits[6] not in "123456":
        return False
    return _valid_day(int(digits[4:6]), int(digits[2:4])) and _iin_checksum(digits)


def _pinfl_date(digits: str) -> bool:
    """Uzbekistan's PINFL starts with a century-and-sex digit (3-6 for people born in
    1900-2099) and the birth date DDMMYY."""
    return digits[0] in "3456" and _valid_day(int(digits[1:3]), int(digits[3:5]))


def pinfl_valid(digits: str) -> bool:
    """PINFL with its last digit checked: weights 7, 3, 1 repeated over the first 13
    digits, modulo 10 (the ICAO 9303 scheme; taken from a public implementation, no
    official text was found)."""
    if len(digits) != 14 or not _pinfl_date(digits):
        return False
    total = sum(int(digit) * (7, 3, 1)[index % 3] for index, digit in enumerate(digits[:13]))
    return total % 10 == int(digits[13])


def _kyrgyz_pin(digits: str) -> bool:
    """Kyrgyzstan's PIN (ИНН): sex digit 1 or 2, birth date DDMMYYYY, five more digits.
    No check digit is published, so the date is all that is checked."""
    if len(digits) != 14 or digits[0] not in "12":
        return False
    year = int(digits[5:9])
    return 1900 <= year <= 2099 and _valid_day(int(digits[1:3]), int(digits[3:5]))


def _valid_day(day: int, month: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]
