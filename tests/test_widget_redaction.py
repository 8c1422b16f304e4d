"""Personal data in a comment is redacted before the rating reaches Redis: the stream
and its AOF never hold it (the flusher redacts again, for older entries)."""

from __future__ import annotations

import httpx
import pytest

from collector import keys
from collector.messages import COMMENT_MAXIMUM_CHARACTERS, EVENT_DECODER
from collector.redaction import redact_within
from collector.runtime import Runtime
from tests.helpers import fresh_token, post_rating, stream_entries

COMMENT = "Звоните 8 916 123-45-67 или пишите ivan.petrov@mail.ru, ИИН 791028302728"
REDACTED = "Звоните [phone] или пишите [email], ИИН [id]"


async def test_the_stream_entry_holds_the_redacted_comment(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await fresh_token(client)
    response = await post_rating(client, {"token": token, "rating": "2", "comment": COMMENT})
    assert response.status_code == 303
    ((_, fields),) = await stream_entries(runtime.redis, keys.STREAM)
    assert EVENT_DECODER.decode(fields[b"e"]).comment == REDACTED
    assert b"916" not in fields[b"e"]
    assert b"mail.ru" not in fields[b"e"]


async def test_a_comment_that_redaction_lengthens_still_fits_the_stream(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Short emails are shorter than "[email]": the flusher must still decode it."""
    comment = ("x@y.ru " * 143)[:COMMENT_MAXIMUM_CHARACTERS]
    token = await fresh_token(client)
    response = await post_rating(client, {"token": token, "rating": "1", "comment": comment})
    assert response.status_code == 303
    ((_, fields),) = await stream_entries(runtime.redis, keys.STREAM)
    stored = EVENT_DECODER.decode(fields[b"e"]).comment
    assert stored == "[email] " * 125  # 143 in the comment; 1,000 characters


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("a@b.io", 7, "[email]"),
        ("a@b.io", 6, ""),  # never half a placeholder
        ("ok a@b.io", 8, "ok "),
        ("see [this] and a@b.io", 12, "see [this] a"),  # brackets of the citizen's own
        ("nothing to redact", 1000, "nothing to redact"),
    ],
)
def test_redact_within_cuts_before_a_placeholder(text: str, limit: int, expected: str) -> None:
    assert redact_within(text, limit) == expected
