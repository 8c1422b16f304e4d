"""Form decoding: valid bodies, problems a citizen can fix, and bodies refused outright."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from collector.errors import BadRequest
from collector.form_decoding import FormProblems, decode_rating_form, normalise_comment
from collector.messages import RatingForm
from collector.questions import QUESTIONS

BASE = "token=t0k&rating=4"
ACUTE_E = "e\u0301"  # 'e' + COMBINING ACUTE ACCENT: one character after NFC
E_ACUTE = "\u00e9"  # the precomposed form


def body(*fields: str) -> bytes:
    return "&".join(fields).encode("ascii")


def comment(text: str) -> str:
    return "comment=" + quote(text, safe="")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(body(BASE), RatingForm(token="t0k", rating=4), id="without-comment"),
        pytest.param(body(BASE, "comment="), RatingForm(token="t0k", rating=4), id="empty-comment"),
        *(
            pytest.param(
                body("token=t0k", f"rating={stars}"),
                RatingForm(token="t0k", rating=stars),
                id=f"rating-{stars}",
            )
            for stars in range(1, 6)
        ),
        pytest.param(
            body(BASE, "comment=Quick+and+polite"),
            RatingForm(token="t0k", rating=4, comment="Quick and polite"),
            id="with-comment",
        ),
        pytest.param(
            body(BASE, "lang=ru", "channel=kiosk", "website="),
            RatingForm(token="t0k", rating=4, lang="ru", channel="kiosk"),
            id="lang-ru-channel-kiosk-empty-honeypot",
        ),
        pytest.param(
            body(BASE, comment("Спасибо, всё быстро")),
            RatingForm(token="t0k", rating=4, comment="Спасибо, всё быстро"),
            id="cyrillic-comment",
        ),
        pytest.param(
            body(BASE, comment("Շնորհակալություն")),
            RatingForm(token="t0k", rating=4, comment="Շնորհակալություն"),
            id="armenian-comment",
        ),
        pytest.param(
            body(BASE, comment("one\r\ntwo\rthree\nfour")),
            RatingForm(token="t0k", rating=4, comment="one\ntwo\nthree\nfour"),
            id="line-ends-normalised",
        ),
        pytest.param(
            body(BASE, comment(" \t\r\n  kind staff \n\n ")),
            RatingForm(token="t0k", rating=4, comment="kind staff"),
            id="comment-trimmed",
        ),
        pytest.param(
            body(BASE, comment("a\tb\nc")),
            RatingForm(token="t0k", rating=4, comment="a\tb\nc"),
            id="tab-and-newline-allowed",
        ),
        pytest.param(
            body(BASE, comment(f"caf{ACUTE_E}")),
            RatingForm(token="t0k", rating=4, comment=f"caf{E_ACUTE}"),
            id="nfc-normalised",
        ),
        pytest.param(
            body(BASE, comment("x" * 1000)),
            RatingForm(token="t0k", rating=4, comment="x" * 1000),
            id="comment-of-1000",
        ),
        pytest.param(
            body(BASE, comment(ACUTE_E * 1000)),
            RatingForm(token="t0k", rating=4, comment=E_ACUTE * 1000),
            id="comment-of-1000-after-nfc-2000-before",
        ),
        pytest.param(
            body(BASE, comment("  " + "x" * 1000 + "\r\n")),
            RatingForm(token="t0k", rating=4, comment="x" * 1000),
            id="comment-of-1000-after-trimming",
        ),
    ],
)
def test_valid_bodies(raw: bytes, expected: RatingForm) -> None:
    assert decode_rating_form(raw) == expected


EMPTY_VALUES = {
    "rating": "",
    "comment": "",
    "website": "",
    "lang": "",
    "channel": "",
    "layout": "",
    "transaction": "",
    **{f"q_{question}": "" for question in QUESTIONS},
}


@pytest.mark.parametrize(
    ("raw", "problems", "values"),
    [
        pytest.param(body("token=t0k"), {"rating": "rating_required"}, {}, id="rating-missing"),
        pytest.param(
            body("token=t0k", "rating="), {"rating": "rating_required"}, {}, id="rating-empty"
        ),
        *(
            pytest.param(
                body("token=t0k", f"rating={quote(bad)}"),
                {"rating": "rating_invalid"},
                {"rating": bad},
                id=f"rating-{bad}",
            )
            for bad in ("0", "6", "abc", "4.5", "-1", " 3", "03", "\uff13")
        ),
        pytest.param(
            body(BASE, comment("x" * 1001)),
            {"comment": "comment_too_long"},
            {"rating": "4", "comment": "x" * 1001},
            id="comment-of-1001",
        ),
        pytest.param(
            body(BASE, comment(ACUTE_E * 1001)),
            {"comment": "comment_too_long"},
            {"rating": "4", "comment": E_ACUTE * 1001},
            id="comment-of-1001-after-nfc",
        ),
        *(
            pytest.param(
                body(BASE, comment(f"a{char}b")),
                {"comment": "comment_invalid_characters"},
                {"rating": "4", "comment": f"a{char}b"},
                id=f"control-U+{ord(char):04X}",
            )
            for char in ("\x00", "\x07", "\x0b", "\x1b", "\x7f", "\x85")
        ),
        pytest.param(
            body(BASE, "website=http%3A%2F%2Fspam.example"),
            {"website": "honeypot_filled"},
            {"rating": "4", "website": "http://spam.example"},
            id="honeypot-filled",
        ),
        pytest.param(
            body("token=t0k", "rating=9", comment("x\x00" * 600), "website=bot", "lang=ru"),
            {
                "rating": "rating_invalid",
                "comment": "comment_invalid_characters",
                "website": "honeypot_filled",
            },
            {"rating": "9", "comment": "x\x00" * 600, "website": "bot", "lang": "ru"},
            id="several-together",
        ),
        pytest.param(
            body("token=t0k", comment("x" * 1001), "channel=qr"),
            {"rating": "rating_required", "comment": "comment_too_long"},
            {"comment": "x" * 1001, "channel": "qr"},
            id="missing-rating-and-long-comment",
        ),
    ],
)
def test_citizen_problems(raw: bytes, problems: dict[str, str], values: dict[str, str]) -> None:
    with pytest.raises(FormProblems) as caught:
        decode_rating_form(raw)
    assert caught.value.problems == problems
    assert caught.value.values == EMPTY_VALUES | values
    assert str(caught.value) == ", ".join(f"{field}: {key}" for field, key in problems.items())


INVALID = "invalid form: "
MALFORMED_UTF8 = "the form contains malformed UTF-8"
SEVENTEEN_FIELDS = body(BASE, *(f"extra{number}=" for number in range(15)))

# (id, body, BadRequest.detail, BadRequest.field)
BAD_REQUESTS = [
    (
        "non-ascii-raw-body",
        f"{BASE}&comment=Привет".encode(),
        "the form body must be URL-encoded (ASCII only)",
        None,
    ),
    ("bad-utf8", body(BASE, "comment=%ff"), MALFORMED_UTF8, None),
    ("truncated-utf8", body(BASE, "comment=%D0"), MALFORMED_UTF8, None),
    ("17-fields", SEVENTEEN_FIELDS, "the form has more than 16 fields", None),
    (
        "rating-twice",
        body(BASE, "rating=5"),
        "the field 'rating' is given more than once",
        "rating",
    ),
    (
        "comment-twice-once-encoded",
        body(BASE, "comment=a", "%63omment=b"),
        "the field 'comment' is given more than once",
        "comment",
    ),
    ("missing-token", body("rating=4"), INVALID + "Object missing required field `token`", "token"),
    (
        "unknown-lang",
        body(BASE, "lang=fr"),
        INVALID + "Invalid enum value 'fr' - at `$.lang`",
        "lang",
    ),
    (
        "unknown-channel",
        body(BASE, "channel=tv"),
        INVALID + "Invalid enum value 'tv' - at `$.channel`",
        "channel",
    ),
    (
        "unknown-field",
        body(BASE, "extra=1"),
        INVALID + "Object contains unknown field `extra`",
        "extra",
    ),
    (
        "overlong-token",
        body("token=" + "t" * 129, "rating=4"),
        INVALID + "Expected `str` of length <= 128 - at `$.token`",
        "token",
    ),
]


@pytest.mark.parametrize(
    ("raw", "detail", "field"), [pytest.param(*row[1:], id=row[0]) for row in BAD_REQUESTS]
)
def test_bad_requests(raw: bytes, detail: str, field: str | None) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_rating_form(raw)
    assert caught.value.detail == detail
    assert caught.value.field == field
    assert caught.value.status_code == 400


def test_sixteen_fields_pass_the_field_count() -> None:
    # Refused for the unknown field, not for the count: 16 is the most allowed.
    with pytest.raises(BadRequest) as caught:
        decode_rating_form(body(BASE, *(f"extra{number}=" for number in range(14))))
    assert caught.value.detail == "invalid form: Object contains unknown field `extra0`"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "", id="empty"),
        pytest.param("  \n\t ", "", id="only-blanks"),
        pytest.param("a\r\nb", "a\nb", id="crlf"),
        pytest.param("a\rb", "a\nb", id="lone-cr"),
        pytest.param("a\r\n\r\nb", "a\n\nb", id="blank-line-kept"),
        pytest.param("\r\n a b \r\n", "a b", id="trimmed-inner-spaces-kept"),
        pytest.param(ACUTE_E, E_ACUTE, id="nfc-composes"),
        pytest.param("\u212b", "\u00c5", id="nfc-angstrom-sign"),
        pytest.param("\ufb01", "\ufb01", id="nfc-keeps-compatibility-ligature"),
        pytest.param("Ереван", "Ереван", id="cyrillic-unchanged"),
    ],
)
def test_normalise_comment(text: str, expected: str) -> None:
    assert normalise_comment(text) == expected
