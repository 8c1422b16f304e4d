"""The hot path: the citizen's widget under /w/, as a plain ASGI application.

GET /w/{service}          the rating form (pre-rendered, with a fresh form token)
POST /w/{service}         decode, validate, one Redis round trip, 303 to the thank-you
GET /w/{service}/thanks   the thank-you page
GET /w/{service}/qr.svg   a QR code of the standalone page, for posters at counters

Nothing here touches SQL, an ORM or template compilation. Every failure becomes a
small, translated page with the right status; no response shows a stack trace.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import segno
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
    BadRequest,
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
from collector.pages import Page, WidgetPages
from collector.questions import QUESTIONS, answer_field
from collector.services import LAYOUTS, Service, ServiceCatalog

logger = logging.getLogger(__name__)

MAXIMUM_BODY_BYTES = 16 * 1024
_SUBPAGES = ("thanks", "qr.svg")
_COMMON_HEADERS: list[tuple[bytes, bytes]] = [
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]
_SVG_HEADERS = [
    (b"content-type", b"image/svg+xml"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'"),
]
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
        public_url: str,
    ) -> None:
        self._services = services
        self._pages = pages
        self._signer = signer
        self._hasher = hasher
        self._buffer = buffer
        self._public_url = public_url
        self._policies: dict[str, bytes] = {}
        self._qr_codes: dict[str, bytes] = {}

    async def __call__(self, scope: HTTPScope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        try:
            await self._route(scope, headers, receive, send)
        except ClientDisconnected:
            return
        except CollectorError as error:
            page = self._pages.message(self._error_language(scope, headers), error.page_message)
            await self._respond(send, scope, error.status_code, page, service=None)
        except Exception:
            logger.exception("unexpected error in the widget")
            page = self._pages.message(self._error_language(scope, headers), "error_generic")
            await self._respond(send, scope, 500, page, service=None)

    def _error_language(self, scope: HTTPScope, headers: dict[bytes, bytes]) -> str:
        accept = _header_text(headers, b"accept-language")
        return self._pages.catalogs.choose(_query(scope).get("lang"), accept, "en")

    async def _route(
        self, scope: HTTPScope, headers: dict[bytes, bytes], receive: Receive, send: Send
    ) -> None:
        parts = scope["path"].strip("/").split("/")
        # parts[0] == "w"; then the service slug; then optionally "thanks" or "qr.svg".
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in _SUBPAGES):
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
        if request.subpage:
            if request.method not in ("GET", "HEAD"):
                raise MethodNotAllowed("use GET")
            if request.subpage == "qr.svg":
                await self._send(send, scope, 200, self._qr_code(service), _SVG_HEADERS)
                return
            layout, channel = self._presentation(request)
            page = self._pages.thanks(service, self._language(request), layout, channel)
            await self._respond(send, scope, 200, page, service=service)
        elif request.method in ("GET", "HEAD"):
            await self._show_form(request, scope, send)
        elif request.method == "POST":
            await self._submit_with_error_pages(request, scope, receive, send)
        else:
            raise MethodNotAllowed("use GET or POST")

    def _language(self, request: Request, requested: str | None = None) -> str:
        """Among the service's languages: `lang`, then Accept-Language, then its default."""
        return self._pages.catalogs.choose(
            requested or request.query.get("lang"),
            _header_text(request.headers, b"accept-language"),
            request.service.default_language,
            offered=request.service.config.languages,
        )

    def _presentation(self, request: Request) -> tuple[str, str]:
        """Layout (the `layout` parameter, else the service's) and channel."""
        layout = request.query.get("layout", "")
        if layout not in LAYOUTS:
            layout = request.service.config.layout
        # A standalone page is reached by a link unless the portal says otherwise.
        channel = request.query.get("channel", "link" if layout == "page" else "web")
        return layout, channel if channel in CHANNELS else "web"

    def _qr_code(self, service: Service) -> bytes:
        key = f"{service.slug}\n{service.name}"
        code = self._qr_codes.get(key)
        if code is None:
            target = f"{self._public_url}/w/{service.slug}?layout=page&channel=qr"
            svg = io.BytesIO()
            segno.make(target, error="m").save(
                svg, kind="svg", scale=8, border=4, xmldecl=False, title=service.name
            )
            code = self._qr_codes[key] = svg.getvalue()
        return code

    async def _show_form(self, request: Request, scope: HTTPScope, send: Send) -> None:
        layout, channel = self._presentation(request)
        token = self._signer.issue(request.service.slug)
        page = self._pages.blank_form(
            request.service, self._language(request), layout, channel, token
        )
        await self._respond(send, scope, 200, page, service=request.service)

    async def _submit_with_error_pages(
        self, request: Request, scope: HTTPScope, receive: Receive, send: Send
    ) -> None:
        """Refusals are shown in the form's language, layout and theme, with a way back."""
        layout, channel = self._presentation(request)
        language = self._language(request)
        try:
            body = await _read_form_body(request.headers, receive)
            hints = _presentation_hints(body)
            language = self._language(request, hints.get("lang"))
            layout = hints["layout"] if hints.get("layout") in LAYOUTS else layout
            channel = hints["channel"] if hints.get("channel") in CHANNELS else channel
            await self._submit(request, scope, send, body)
        except CollectorError as error:
            slug = request.service.slug
            back = f"/w/{slug}?lang={language}&layout={layout}&channel={channel}"
            page = self._pages.message(
                language, error.page_message, request.service, layout, back=back
            )
            await self._respond(send, scope, error.status_code, page, service=request.service)

    async def _submit(self, request: Request, scope: HTTPScope, send: Send, body: bytes) -> None:
        service = request.service
        try:
            form = decode_rating_form(body)
        except FormProblems as problems:
            unasked = [
                question
                for question in QUESTIONS
                if problems.values.get(answer_field(question))
                and question not in service.config.questions
            ]
            if unasked:
                raise BadRequest(f"this service does not ask {', '.join(unasked)}") from None
            language = self._language(request, problems.values.get("lang"))
            channel = problems.values.get("channel", "")
            layout = problems.values.get("layout", "")
            page = self._pages.form(
                service,
                language,
                layout if layout in LAYOUTS else service.config.layout,
                channel if channel in CHANNELS else "web",
                self._signer.issue(service.slug),
                problems=problems.problems,
                values=problems.values,
            )
            await self._respond(send, scope, 422, page, service=service)
            return
        answers = form.answers()
        unasked = sorted(set(answers) - set(service.config.questions))
        if unasked:
            raise BadRequest(f"this service does not ask {', '.join(unasked)}", field=unasked[0])
        language = self._language(request, form.lang)
        values = {"rating": str(form.rating), "comment": form.comment, "website": ""}
        values.update({answer_field(question): value for question, value in answers.items()})
        try:
            token = self._signer.verify(service.slug, form.token)
        except FormTokenError as error:
            if error.problem is not TokenProblem.EXPIRED:
                raise Forbidden(f"form token refused: {error.problem.value}") from None
            page = self._pages.form(
                service,
                language,
                form.layout,
                form.channel,
                self._signer.issue(service.slug),
                values=values,
                notice="form_expired",
            )
            await self._respond(send, scope, 422, page, service=service)
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
                answers=answers,
            )
            result = await self._buffer.submit(event, token.nonce)
        except ServiceUnavailable as error:
            logger.warning("rating not saved for %s: %s", service.slug, error.detail)
            # The same token again: if the rating did reach Redis after all, sending
            # it again shows the thank-you page and stores nothing twice.
            page = self._pages.form(
                service,
                language,
                form.layout,
                form.channel,
                form.token,
                values=values,
                notice="error_not_saved",
            )
            await self._respond(send, scope, 503, page, [(b"retry-after", b"5")], service=service)
            return
        if result.outcome is Outcome.RATE_LIMITED:
            raise TooManyRequests("rate limit reached")
        location = (
            f"/w/{service.slug}/thanks?lang={language}&layout={form.layout}&channel={form.channel}"
        )
        await self._send(send, scope, 303, b"", [(b"location", location.encode())])

    def _policy(self, style_source: str, service: Service | None) -> bytes:
        """The page's CSP; frame-ancestors: the service's origins, 'none' if unknown."""
        ancestors = service.config.frame_ancestors if service else "'none'"
        key = f"{style_source} {ancestors}"
        policy = self._policies.get(key)
        if policy is None:
            policy = self._policies[key] = (
                "default-src 'none'; "
                f"style-src {style_source}; "
                f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
            ).encode()
        return policy

    async def _respond(
        self,
        send: Send,
        scope: HTTPScope,
        status: int,
        page: Page,
        extra_headers: Iterable[tuple[bytes, bytes]] = (),
        *,
        service: Service | None,
    ) -> None:
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-security-policy", self._policy(page.style_source, service)),
            *extra_headers,
        ]
        await self._send(send, scope, status, page.body, headers)

    async def _send(
        self,
        send: Send,
        scope: HTTPScope,
        status: int,
        body: bytes,
        extra_headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        headers = [*_COMMON_HEADERS, *extra_headers]
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


def _presentation_hints(body: bytes) -> dict[str, str]:
    """lang, layout and channel from a body, leniently: an error page for a form that
    cannot be decoded is still shown in its language and layout."""
    try:
        pairs = parse_qsl(body.decode("ascii"), errors="replace", max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {name: value for name, value in pairs if name in ("lang", "layout", "channel")}


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
