"""Form decoding: an url-encoded body into a RatingForm, or the reasons it is not one.

Problems a citizen can fix (no star chosen, a comment too long) come back as
FormProblems so the page is shown again with them; a body no browser would send from
our form (broken encoding, repeated or unknown fields, a tampered hidden field) is a
BadRequest.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl

import msgspec

from collector.errors import BadRequest
from collector.messages import COMMENT_MAXIMUM_CHARACTERS, RatingForm
from collector.questions import QUESTIONS, answer_field

# Our form has at most 15 fields (8 fixed, 7 questions); a body with many more was not
# sent by it.
_MAXIMUM_FIELDS = 16
_CITIZEN_FIELDS = ("rating", "comment", "website", *(answer_field(q) for q in QUESTIONS))
_ALLOWED_CONTROLS = frozenset("\n\t")


class FormProblems(Exception):
    """Problems the citizen can correct, by field, with the values they entered."""

    def __init__(self, problems: dict[str, str], values: dict[str, str]) -> None:
        super().__init__(", ".join(f"{field}: {key}" for field, key in problems.items()))
        self.problems = problems
        self.values = values


def normalise_comment(text: str) -> str:
    """NFC, Unix line ends, no surrounding blanks: what we count and store."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text.strip()


def _parse_fields(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise BadRequest("the form body must be URL-encoded (ASCII only)") from None
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAXIMUM_FIELDS,
        )
    except UnicodeDecodeError:
        raise BadRequest("the form contains malformed UTF-8") from None
    except ValueError:
        raise BadRequest(f"the form has more than {_MAXIMUM_FIELDS} fields") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise BadRequest(f"the field {name!r} is given more than once", field=name)
        fields[name] = value
    return fields


def _citizen_problems(fields: dict[str, str]) -> dict[str, str]:
    problems: dict[str, str] = {}
    rating = fields.get("rating", "")
    if rating == "":
        problems["rating"] = "rating_required"
    elif rating not in ("1", "2", "3", "4", "5"):
        problems["rating"] = "rating_invalid"
    comment = fields.get("comment", "")
    if any(
        (unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS) for char in comment
    ):
        problems["comment"] = "comment_invalid_characters"
    elif len(comment) > COMMENT_MAXIMUM_CHARACTERS:
        problems["comment"] = "comment_too_long"
    for question, options in QUESTIONS.items():
        answer = fields.get(answer_field(question), "")
        if answer and answer not in options:
            problems[answer_field(question)] = "answer_invalid"
    if fields.get("website", ""):
        problems["website"] = "honeypot_filled"
    return problems


def decode_rating_form(body: bytes) -> RatingForm:
    """Return the form, or raise FormProblems (citizen can fix) or BadRequest."""
    fields = _parse_fields(body)
    if "comment" in fields:
        fields["comment"] = normalise_comment(fields["comment"])
    problems = _citizen_problems(fields)
    if problems:
        values = {name: fields.get(name, "") for name in _CITIZEN_FIELDS}
        for hidden in ("lang", "channel", "layout", "transaction"):
            values[hidden] = fields.get(hidden, "")
        raise FormProblems(problems, values)
    try:
        return msgspec.convert(fields, RatingForm, strict=False)
    except msgspec.ValidationError as error:
        # Only hidden fields are left to fail here: the page did not send this.
        raise BadRequest(f"invalid form: {error}", field=_field_of(str(error))) from None


def _field_of(message: str) -> str | None:
    """The field a msgspec error names: `... - at `$.lang`` or `... field `token``."""
    match = re.search(r"`\$\.(\w+)`|field `(\w+)`", message)
    return (match.group(1) or match.group(2)) if match else None
