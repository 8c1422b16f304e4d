"""The hot path: the citizen's widget under /w/, as a plain ASGI application.

GET /w/{service}          the rating form (pre-rendered, with a fresh form token)
POST /w/{service}         decode, validate, one Redis round trip, 303 to the thank-you
GET /w/{service}/thanks   the thank-you page

Nothing here touches SQL, an ORM or template compilation. Every failure becomes a
small, translated page with the right status; no response shows a stack trace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Receive,
    Send,
)

from collector.buffer import Outcome, RatingBuffer
from collector.client_hash import ClientHasher
from collector.errors import (
    CollectorError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    UnsupportedMediaType,
)
from collector.form_decoding import FormProblems, decode_rating_form
from collector.form_token import FormTokenError, FormTokenSigner, TokenProblem
from collector.ids import new_rating_id
from collector.messages import CHANNELS, USER_AGENT_MAXIMUM_CHARACTERS, RatingEvent
from collector.pages import WidgetPages
from collector.services import Service, ServiceCatalog

logger = logging.getLogger(__name__)

MAXIMUM_BODY_BYTES = 16 * 1024
_FORM_CONTENT_TYPE = b"application/x-www-form-urlencoded"

Headers = list[tuple[bytes, bytes]]


class ClientDisconnected(Exception):
    """The client went away before sending its whole body."""


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    service: Service
    subpage: str
    query: dict[str, str]
    headers: dict[bytes, bytes]
    client_address: str


class WidgetApp:
    """ASGI application for every path under /w/."""

    def __init__(
        self,
        *,
        services: ServiceCatalog,
        pages: WidgetPages,
        signer: FormTokenSigner,
        hasher: ClientHasher,
        buffer: RatingBuffer,
    ) -> None:
        self._services = services
        self._pages = pages
        self._signer = signer
        self._hasher = hasher
        self._buffer = buffer
        self._security_headers: Headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (
                b"content-security-policy",
                (
                    "default-src 'none'; "
                    f"style-src {pages.style_source}; "
                    "form-action 'self'; base-uri 'none'; frame-ancestors *"
                ).encode(),
            ),
            (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
        ]

    async def __call__(self, scope: HTTPScope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        language = self._pages.catalogs.choose(
            _query(scope).get("lang"), _header_text(headers, b"accept-language"), "en"
        )
        try:
            await self._route(scope, headers, receive, send)
        except ClientDisconnected:
            return
        except CollectorError as error:
            body = self._pages.message(language, error.page_message)
            await self._respond(send, scope, error.status_code, body)
        except Exception:
            logger.exception("unexpected error in the widget")
            body = self._pages.message(language, "error_generic")
            await self._respond(send, scope, 500, body)

    async def _route(
        self, scope: HTTPScope, headers: dict[bytes, bytes], receive: Receive, send: Send
    ) -> None:
        parts = scope["path"].strip("/").split("/")
        # parts[0] == "w"; then the service slug; then optionally "thanks".
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "thanks"):
            raise NotFound("no such page")
        service = self._services.get(parts[1])
        if service is None:
            raise NotFound(f"unknown service {parts[1]!r}")
        client = scope.get("client")
        request = Request(
            method=scope["method"],
            service=service,
            subpage=parts[2] if len(parts) == 3 else "",
            query=_query(scope),
            headers=headers,
            client_address=client[0] if client else "unknown",
        )
        if request.subpage == "thanks":
            if request.method not in ("GET", "HEAD"):
                raise MethodNotAllowed("use GET")
            page = self._pages.thanks(service, self._language(request))
            await self._respond(send, scope, 200, page)
        elif request.method in ("GET", "HEAD"):
            await self._show_form(request, scope, send)
        elif request.method == "POST":
            await self._submit(request, scope, receive, send)
        else:
            raise MethodNotAllowed("use GET or POST")

    def _language(self, request: Request, requested: str | None = None) -> str:
        return self._pages.catalogs.choose(
            requested or request.query.get("lang"),
            _header_text(request.headers, b"accept-language"),
            request.service.default_language,
        )

    async def _show_form(self, request: Request, scope: HTTPScope, send: Send) -> None:
        channel = request.query.get("channel", "web")
        if channel not in CHANNELS:
            channel = "web"
        token = self._signer.issue(request.service.slug)
        page = self._pages.blank_form(request.service, self._language(request), channel, token)
        await self._respond(send, scope, 200, page)

    async def _submit(
        self, request: Request, scope: HTTPScope, receive: Receive, send: Send
    ) -> None:
        service = request.service
        body = await _read_form_body(request.headers, receive)
        try:
            form = decode_rating_form(body)
        except FormProblems as problems:
            language = self._language(request, problems.values.get("lang"))
            channel = problems.values.get("channel") or "web"
            page = self._pages.form(
                service,
                language,
                channel if channel in CHANNELS else "web",
                self._signer.issue(service.slug),
                problems=problems.problems,
                values=problems.values,
            )
            await self._respond(send, scope, 422, page)
            return
        language = self._language(request, form.lang)
        values = {"rating": str(form.rating), "comment": form.comment, "website": ""}
        try:
            token = self._signer.verify(service.slug, form.token)
        except FormTokenError as error:
            if error.problem is not TokenProblem.EXPIRED:
                raise Forbidden(f"form token refused: {error.problem.value}") from None
            page = self._pages.form(
                service,
                language,
                form.channel,
                self._signer.issue(service.slug),
                values=values,
                notice="form_expired",
            )
            await self._respond(send, scope, 422, page)
            return
        user_agent = _header_text(request.headers, b"user-agent") or ""
        try:
            event = RatingEvent(
                id=new_rating_id(),
                service=service.slug,
                rating=form.rating,
                comment=form.comment,
                language=form.lang,
                channel=form.channel,
                received_at=time.time_ns() // 1_000_000,
                client_hash=await self._hasher.hash(request.client_address),
                user_agent=user_agent[:USER_AGENT_MAXIMUM_CHARACTERS],
            )
            result = await self._buffer.submit(event, token.nonce)
        except ServiceUnavailable as error:
            logger.warning("rating not saved for %s: %s", service.slug, error.detail)
            # The same token again: if the rating did reach Redis after all, sending
            # it again shows the thank-you page and stores nothing twice.
            page = self._pages.form(
                service, language, form.channel, form.token, values=values, notice="error_not_saved"
            )
            await self._respond(send, scope, 503, page, [(b"retry-after", b"5")])
            return
        if result.outcome is Outcome.RATE_LIMITED:
            raise TooManyRequests("rate limit reached")
        location = f"/w/{service.slug}/thanks?lang={language}".encode()
        await self._respond(send, scope, 303, b"", [(b"location", location)])

    async def _respond(
        self,
        send: Send,
        scope: HTTPScope,
        status: int,
        body: bytes,
        extra_headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        headers = [*self._security_headers, *extra_headers]
        headers.append((b"content-length", str(len(body)).encode()))
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": status,
            "headers": headers,
        }
        await send(start)
        end: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": b"" if scope["method"] == "HEAD" else body,
            "more_body": False,
        }
        await send(end)


def _query(scope: HTTPScope) -> dict[str, str]:
    raw = scope["query_string"]
    if not raw:
        return {}
    try:
        return dict(parse_qsl(raw.decode("latin-1"), max_num_fields=10))
    except ValueError:
        return {}


def _header_text(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None


async def _read_form_body(headers: dict[bytes, bytes], receive: Receive) -> bytes:
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if content_type != _FORM_CONTENT_TYPE:
        raise UnsupportedMediaType("send the form as application/x-www-form-urlencoded")
    declared = headers.get(b"content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAXIMUM_BODY_BYTES):
        raise PayloadTooLarge(f"the form is larger than {MAXIMUM_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnected
        chunk = message.get("body", b"")  # both keys are optional in ASGI
        size += len(chunk)
        if size > MAXIMUM_BODY_BYTES:
            raise PayloadTooLarge(f"the form is larger than {MAXIMUM_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
