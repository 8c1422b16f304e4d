"""The citizen's widget over HTTP: the form, submissions, and every refusal."""

from __future__ import annotations

import re
from dataclasses import replace

import httpx
import pytest

from collector import keys
from collector.app import create_app
from collector.embedded_redis import EmbeddedRedis
from collector.runtime import Runtime
from collector.settings import Settings
from tests.helpers import (
    FORM_TYPE,
    asgi_transport,
    form_token,
    fresh_token,
    post_rating,
    stream_entries,
)


async def stream_length(runtime: Runtime) -> int:
    return int(await runtime.redis.xlen(keys.STREAM))


async def test_form_is_plain_html_with_five_ordered_stars(client: httpx.AsyncClient) -> None:
    response = await client.get("/w/demo-passport")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    values = re.findall(r'<input type="radio" name="rating" id="r(\d)" value="(\d)"', html)
    assert values == [(str(n), str(n)) for n in range(1, 6)]
    assert "<fieldset" in html
    assert "<legend>How satisfied are you with Passport renewal (demo)?</legend>" in html
    assert '<label for="r4"><span class="v">4 of 5, satisfied</span></label>' in html
    assert 'name="website"' in html  # the honeypot
    assert form_token(html)
    assert "<script" not in html.lower()
    assert "set-cookie" not in response.headers
    assert re.search(r"""(src|href)=["']?https?:""", html) is None  # nothing external


async def test_form_headers_forbid_scripts_and_foreign_form_targets(
    client: httpx.AsyncClient,
) -> None:
    policy = (await client.get("/w/demo-passport")).headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "form-action 'self'" in policy
    assert "script-src" not in policy  # so default-src 'none' forbids every script
    assert "'unsafe-inline'" not in policy  # the inline style is allowed by its hash


async def test_each_form_gets_its_own_token(client: httpx.AsyncClient) -> None:
    assert await fresh_token(client) != await fresh_token(client)


@pytest.mark.parametrize(
    ("url", "headers", "expected_lang", "expected_text"),
    [
        ("/w/demo-passport?lang=ru", {}, "ru", "Отправить оценку"),
        ("/w/demo-passport", {"accept-language": "ru-RU,ru;q=0.9,en;q=0.5"}, "ru", "Отправить"),
        ("/w/demo-passport?lang=xx", {"accept-language": "fr"}, "en", "Send rating"),
        ("/w/demo-passport", {}, "en", "Send rating"),
    ],
    ids=["lang-parameter", "accept-language", "unknown-falls-back", "service-default"],
)
async def test_language_is_chosen_and_declared(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    expected_lang: str,
    expected_text: str,
) -> None:
    html = (await client.get(url, headers=headers)).text
    assert f'<html lang="{expected_lang}" dir="ltr">' in html
    assert expected_text in html
    assert f'name="lang" value="{expected_lang}"' in html


async def test_head_answers_without_body(client: httpx.AsyncClient) -> None:
    response = await client.head("/w/demo-passport")
    assert response.status_code == 200
    assert response.content == b""


async def test_valid_rating_is_buffered_then_redirected_to_thanks(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await fresh_token(client)
    response = await post_rating(
        client, {"token": token, "rating": "5", "comment": "Fast", "lang": "ru"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/w/demo-passport/thanks?lang=ru&layout=full&channel=web"
    assert await stream_length(runtime) == 1
    thanks = await client.get(response.headers["location"])
    assert thanks.status_code == 200
    assert "Спасибо!" in thanks.text


async def test_the_stream_entry_holds_neither_the_address_nor_the_client_hash(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await fresh_token(client)
    await post_rating(client, {"token": token, "rating": "3"}, headers={"user-agent": "UA/1"})
    entries = await stream_entries(runtime.redis, keys.STREAM)
    payload = entries[0][1][b"e"].decode()
    assert '"rating":3' in payload
    assert '"user_agent":"UA/1"' in payload
    assert "203.0.113.7" not in payload  # the test client's address
    assert re.search(r'"id":"[0-9a-f-]{36}"', payload)
    # The hash is the key of the client's rate limit only, which expires.
    (rate_key,) = [key async for key in runtime.redis.scan_iter(match="cf:*:rate:*")]
    client_hash = rate_key.rsplit(b":", 1)[1].decode()
    assert re.fullmatch(r"[0-9a-f]{24}", client_hash)
    assert client_hash not in payload
    assert "client_hash" not in payload
    assert await runtime.redis.pttl(rate_key) > 0


async def test_replayed_form_thanks_again_but_stores_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await fresh_token(client)
    first = await post_rating(client, {"token": token, "rating": "4"})
    second = await post_rating(client, {"token": token, "rating": "1"})
    assert (first.status_code, second.status_code) == (303, 303)
    assert await stream_length(runtime) == 1


@pytest.mark.parametrize(
    ("fields", "problem_text"),
    [
        ({}, "Choose a rating from 1 to 5 stars."),
        ({"rating": "6"}, "Choose a rating from 1 to 5 stars."),
        ({"rating": "4", "comment": "x" * 1001}, "longer than 1,000 characters"),
        ({"rating": "4", "comment": "a\x00b"}, "characters that cannot be saved"),
        ({"rating": "4", "website": "http://spam"}, "Leave the field"),
    ],
    ids=["no-rating", "rating-out-of-range", "comment-too-long", "nul-byte", "honeypot"],
)
async def test_citizen_mistakes_show_the_form_again_with_422(
    client: httpx.AsyncClient, runtime: Runtime, fields: dict[str, str], problem_text: str
) -> None:
    token = await fresh_token(client)
    response = await post_rating(client, {"token": token, **fields})
    assert response.status_code == 422
    assert "There is a problem" in response.text
    assert problem_text in response.text
    assert form_token(response.text)  # a form that can be sent again
    assert await stream_length(runtime) == 0


async def test_entered_values_are_kept_on_error(client: httpx.AsyncClient) -> None:
    token = await fresh_token(client)
    response = await post_rating(
        client, {"token": token, "rating": "2", "comment": "<b>Slow</b> queue", "website": "x"}
    )
    assert response.status_code == 422
    assert 'value="2" checked' in response.text
    assert "&lt;b&gt;Slow&lt;/b&gt; queue</textarea>" in response.text


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"rating=4", {"content-type": "application/json"}, 415),
        (b"rating=4", {"content-type": "multipart/form-data; boundary=x"}, 415),
        (b"rating=4", {}, 415),
        (b"comment=" + b"a" * 17_000, FORM_TYPE, 413),
        (b"token=1.2.3&rating=4&rating=5", FORM_TYPE, 400),
        (b"token=1.2.3&rating=4&comment=%ff%fe", FORM_TYPE, 400),
        ("token=1.2.3&rating=4&comment=тест".encode(), FORM_TYPE, 400),
        (b"&".join(b"f%d=1" % n for n in range(40)), FORM_TYPE, 400),
        (b"token=1.2.3&rating=4&lang=fr", FORM_TYPE, 400),
        (b"token=forged&rating=4", FORM_TYPE, 403),
        (b"token=1795387467.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA&rating=4", FORM_TYPE, 403),
        (b"token=%C2%B2.abc.def&rating=4", FORM_TYPE, 403),
        (b"token=1795387467.abc.%C3%A9%C3%A9&rating=4", FORM_TYPE, 403),
    ],
    ids=[
        "json",
        "multipart",
        "no-content-type",
        "over-16-kb",
        "repeated-field",
        "malformed-utf8",
        "raw-non-ascii",
        "too-many-fields",
        "unknown-language",
        "malformed-token",
        "forged-signature",
        "unicode-digit-time",
        "non-ascii-signature",
    ],
)
async def test_unreadable_posts_get_a_clear_4xx_and_store_nothing(
    client: httpx.AsyncClient, runtime: Runtime, body: bytes, headers: dict[str, str], status: int
) -> None:
    response = await client.post("/w/demo-passport", content=body, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>" in response.text
    assert "Traceback" not in response.text
    assert await stream_length(runtime) == 0


async def test_token_for_another_service_is_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = runtime.signer.issue("another-service")
    response = await post_rating(client, {"token": token, "rating": "4"})
    assert response.status_code == 403
    assert await stream_length(runtime) == 0


async def test_expired_form_is_shown_again_with_answers_kept(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    old = runtime.signer.issue("demo-passport", now=1_000_000_000)
    response = await post_rating(client, {"token": old, "rating": "2", "comment": "late"})
    assert response.status_code == 422
    assert "This form had expired" in response.text
    assert 'value="2" checked' in response.text
    assert form_token(response.text) != old
    assert await stream_length(runtime) == 0


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/w/no-such-service", 404),
        ("POST", "/w/no-such-service", 404),
        ("GET", "/w/demo-passport/elsewhere", 404),
        ("GET", "/w/demo-passport/thanks/more", 404),
        ("PUT", "/w/demo-passport", 405),
        ("POST", "/w/demo-passport/thanks", 405),
    ],
)
async def test_wrong_addresses_and_methods(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    assert "<h1>" in response.text


async def test_rate_limit_refuses_without_thanking(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    limit = runtime.settings.rate_limit_per_minute
    for _ in range(limit):
        token = await fresh_token(client)
        assert (await post_rating(client, {"token": token, "rating": "5"})).status_code == 303
    token = await fresh_token(client)
    refused = await post_rating(client, {"token": token, "rating": "5"})
    assert refused.status_code == 429
    assert "NOT saved" in refused.text
    assert await stream_length(runtime) == limit


async def test_redis_down_gives_503_and_never_thanks(
    settings: Settings, private_redis: EmbeddedRedis
) -> None:
    server = private_redis
    runtime = await Runtime.open(replace(settings, redis_url=server.url))
    transport = asgi_transport(runtime)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            token = await fresh_token(client)
            server.stop()
            fields = {"token": token, "rating": "5", "comment": "hi"}
            response = await post_rating(client, fields)
            assert response.status_code == 503
            assert "NOT saved" in response.text
            assert "Thank you" not in response.text
            assert response.headers["retry-after"] == "5"
            # Answers and the same token are kept, so sending again is one click.
            assert form_token(response.text) == token
            assert ">hi</textarea>" in response.text

            server.start()  # same data directory and port: the AOF is replayed
            assert await stream_length(runtime) == 0
            again = await post_rating(client, fields)
            assert again.status_code == 303
            assert await stream_length(runtime) == 1
    finally:
        await runtime.close()


async def test_asgi_messages_without_optional_keys(runtime: Runtime) -> None:
    """ASGI makes `body` and `more_body` optional; a server may leave them out."""
    token = runtime.signer.issue("demo-passport")
    body = f"token={token}&rating=4".encode()
    messages: list[dict[str, object]] = [{"type": "http.request", "body": body}]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/w/demo-passport",
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("192.0.2.1", 1),
    }
    await create_app(runtime)(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 303
