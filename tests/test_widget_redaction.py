"""Personal data in a comment is redacted before the rating reaches Redis: the stream
and its AOF never hold it (the flusher redacts again, for older entries)."""

from __future__ import annotations

import httpx

from collector import keys
from collector.messages import EVENT_DECODER
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
