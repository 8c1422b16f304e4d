"""Form decoding, property by property: whatever the body, the decoder returns a valid
form or raises one of its two documented problems (FormProblems, BadRequest), and a
valid form survives encoding and decoding unchanged."""

from __future__ import annotations

import random
import unicodedata
from urllib.parse import quote, urlencode

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.errors import BadRequest
from collector.form_decoding import FormProblems, decode_rating_form, normalise_comment
from collector.messages import (
    CHANNELS,
    COMMENT_MAXIMUM_CHARACTERS,
    SUPPORTED_LANGUAGES,
    RatingForm,
)
from collector.questions import QUESTIONS, answer_field
from collector.services import LAYOUTS

FIELDS = RatingForm.__struct_fields__
PROBLEM_KEYS = {
    "rating_required",
    "rating_invalid",
    "comment_invalid_characters",
    "comment_too_long",
    "answer_invalid",
    "honeypot_filled",
}

# Field names: ours most of the time, anything at all otherwise.
names = st.one_of(st.sampled_from(FIELDS), st.text(max_size=12))
values = st.one_of(
    st.sampled_from(["", "1", "4", "5", "6", "en", "kiosk", "yes", "agree"]),
    st.text(max_size=40),
    st.text(max_size=COMMENT_MAXIMUM_CHARACTERS + 200),
)


def outcome(body: bytes) -> RatingForm | FormProblems | BadRequest:
    """The decoder's answer; any other exception fails the test that called it."""
    try:
        return decode_rating_form(body)
    except (FormProblems, BadRequest) as problem:
        return problem


def check_documented(result: RatingForm | FormProblems | BadRequest) -> None:
    if isinstance(result, RatingForm):
        # A returned form meets every limit its type declares.
        msgspec.convert(msgspec.to_builtins(result), RatingForm)
        assert len(result.comment) <= COMMENT_MAXIMUM_CHARACTERS
    elif isinstance(result, FormProblems):
        assert result.problems
        assert set(result.problems.values()) <= PROBLEM_KEYS
        assert set(result.problems) <= set(result.values)
    else:
        assert result.status_code == 400
        assert result.field is None or isinstance(result.field, str)


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_a_form_or_a_documented_problem(body: bytes) -> None:
    check_documented(outcome(body))


@given(st.lists(st.tuples(names, values), max_size=20))
def test_arbitrary_encoded_fields_give_a_form_or_a_documented_problem(
    fields: list[tuple[str, str]],
) -> None:
    result = outcome(urlencode(fields).encode("ascii"))
    check_documented(result)
    field_names = [name for name, _ in fields]
    if len(fields) > 16:
        assert isinstance(result, BadRequest)
    elif len(set(field_names)) < len(field_names):
        assert isinstance(result, BadRequest)
        assert result.field in field_names


@given(st.text(max_size=COMMENT_MAXIMUM_CHARACTERS * 3))
def test_a_comment_is_refused_exactly_when_too_long_or_with_control_characters(
    text: str,
) -> None:
    result = outcome(f"token=t&rating=3&comment={quote(text, safe='')}".encode("ascii"))
    normalised = normalise_comment(text)
    controls = any(unicodedata.category(char) == "Cc" and char not in "\n\t" for char in normalised)
    if controls:
        assert isinstance(result, FormProblems)
        assert result.problems == {"comment": "comment_invalid_characters"}
    elif len(normalised) > COMMENT_MAXIMUM_CHARACTERS:
        assert isinstance(result, FormProblems)
        assert result.problems == {"comment": "comment_too_long"}
    else:
        assert result == RatingForm(token="t", rating=3, comment=normalised)


@given(st.binary(min_size=1, max_size=50).filter(lambda raw: not _is_utf8(raw)), names)
def test_malformed_utf8_anywhere_is_a_bad_request(raw: bytes, name: str) -> None:
    encoded = quote(raw, safe="")
    for body in (f"rating=3&{quote(name)}={encoded}", f"rating=3&{encoded}=x"):
        result = outcome(body.encode("ascii"))
        assert isinstance(result, BadRequest)
        assert result.detail == "the form contains malformed UTF-8"


@given(st.text(max_size=30), st.sampled_from(["token", "comment", "rating", "lang"]))
def test_a_nul_is_never_accepted_in_a_field_we_store(text: str, name: str) -> None:
    fields = {"token": "t", "rating": "3", name: f"{text}\x00{text}"}
    result = outcome(urlencode(fields).encode("ascii"))
    check_documented(result)
    if name == "token":  # not stored: the HMAC check refuses it later
        assert isinstance(result, RatingForm)
    else:
        assert not isinstance(result, RatingForm)


@pytest.mark.parametrize("count", [17, 100, 5000])
def test_many_fields_are_a_bad_request(count: int) -> None:
    body = "&".join(f"f{number}=x" for number in range(count)).encode("ascii")
    result = outcome(body)
    assert isinstance(result, BadRequest)
    assert result.detail == "the form has more than 16 fields"


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _valid_comment(text: str) -> str:
    kept = "".join(c for c in text if unicodedata.category(c) != "Cc" or c in "\n\t")
    return normalise_comment(kept)[:COMMENT_MAXIMUM_CHARACTERS].strip()


printable = st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=60)
valid_forms = st.builds(
    RatingForm,
    token=st.text(max_size=128),
    rating=st.integers(1, 5),
    comment=st.text(max_size=COMMENT_MAXIMUM_CHARACTERS).map(_valid_comment),
    lang=st.sampled_from(SUPPORTED_LANGUAGES),
    channel=st.sampled_from(CHANNELS),
    layout=st.sampled_from(LAYOUTS),
    q_duration=st.sampled_from(("", *QUESTIONS["duration"])),
    q_resolved=st.sampled_from(("", *QUESTIONS["resolved"])),
    q_trust=st.sampled_from(("", *QUESTIONS["trust"])),
    transaction=printable,
)


@given(valid_forms, st.randoms(use_true_random=False))
def test_a_valid_form_survives_encoding_and_decoding(
    form: RatingForm, order: random.Random
) -> None:
    fields = [(name, str(value)) for name, value in msgspec.structs.asdict(form).items()]
    order.shuffle(fields)  # a browser may send the fields in any order
    assert decode_rating_form(urlencode(fields).encode("ascii")) == form


@given(st.sampled_from(sorted(QUESTIONS)), st.text(max_size=20))
def test_an_answer_outside_the_questions_options_is_a_citizen_problem(
    question: str, answer: str
) -> None:
    result = outcome(
        urlencode({"token": "t", "rating": "2", answer_field(question): answer}).encode()
    )
    if answer in ("", *QUESTIONS[question]):
        assert isinstance(result, RatingForm)
    else:
        assert isinstance(result, FormProblems)
        assert result.problems == {answer_field(question): "answer_invalid"}
