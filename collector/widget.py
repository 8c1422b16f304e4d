"""The hot path: the citizen's widget under /w/, as a plain ASGI application.

GET /w/{service}[?t=JWT]  the rating form (pre-rendered, with a fresh form token and
                          the portal's transaction token when it verifies)
POST /w/{service}         decode, validate, one Redis round trip, 303 to the thank-you
GET /w/{service}/thanks   the thank-you page
GET /w/{service}/qr.svg   a QR code of the standalone page, for posters at counters

Nothing here touches SQL, an ORM or template compilation. Every failure becomes a
small, translated page with the right status, and is counted by reason for admins; no
response shows a stack trace.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

from litestar.types import HTTPScope, Receive, Send

from collector import security_headers
from collector.buffer import Outcome, RatingBuffer, SubmitResult
from collector.client_hash import ClientHasher
from collector.clock import Clock, wall_clock
from collector.errors import (
    CollectorError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
)
from collector.form_decoding import FormProblems, decode_rating_form
from collector.form_token import FormTokenError, FormTokenSigner, TokenProblem
from collector.forwarded import TrustedProxies
from collector.ids import new_rating_id
from collector.impression_counter import ImpressionCounter
from collector.messages import (
    CHANNELS,
    COMMENT_MAXIMUM_CHARACTERS,
    USER_AGENT_MAXIMUM_CHARACTERS,
    RatingEvent,
    RatingForm,
)
from collector.pages import Page, WidgetPages
from collector.qr_code import QrCodes
from collector.questions import QUESTIONS, answer_field, refuse_unasked
from collector.redaction import redact_within
from collector.rejections import UNKNOWN_SERVICE, RejectionCounter
from collector.services import LAYOUTS, Service, ServiceCatalog
from collector.spool import RatingSpool
from collector.transaction_token import LEEWAY_SECONDS, TransactionTokenVerifier
from collector.widget_request import (
    ClientDisconnected,
    Request,
    header_text,
    presentation_hints,
    query_parameters,
    read_form_body,
)
from collector.widget_responses import WidgetResponses

logger = logging.getLogger(__name__)

_SUBPAGES = ("thanks", "qr.svg")
_SVG_HEADERS = [
    (b"content-type", b"image/svg+xml"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'"),
]

# Kept on local disk: thanked like a rating Redis took (collector/spool.py replays it).
_SPOOLED = SubmitResult(Outcome.ACCEPTED)


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
        transactions: TransactionTokenVerifier,
        rejections: RejectionCounter,
        proxies: TrustedProxies,
        impressions: ImpressionCounter,
        spool: RatingSpool | None = None,
        minimum_fill_seconds: int = 0,
        clock: Clock = wall_clock,
        body_timeout_seconds: float = 15.0,
    ) -> None:
        self._clock = clock
        self._body_timeout_seconds = body_timeout_seconds
        self._spool = spool
        self._minimum_fill_seconds = minimum_fill_seconds
        self._proxies = proxies
        self._impressions = impressions
        self._services = services
        self._transactions = transactions
        self._rejections = rejections
        self._pages = pages
        self._signer = signer
        self._hasher = hasher
        self._buffer = buffer
        self._responses = WidgetResponses()
        self._qr_codes = QrCodes(public_url)

    async def __call__(self, scope: HTTPScope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        try:
            await self._route(scope, headers, receive, send)
        except ClientDisconnected:
            return
        except CollectorError as error:
            await self._rejections.count(self._known_slug(scope), error.reason)
            page = self._pages.message(self._error_language(scope, headers), error.page_message)
            await self._responses.page(send, scope, error.status_code, page, service=None)
        except Exception:
            logger.exception("unexpected error in the widget")
            page = self._pages.message(self._error_language(scope, headers), "error_generic")
            await self._responses.page(send, scope, 500, page, service=None)

    def _known_slug(self, scope: HTTPScope) -> str:
        parts = scope["path"].split("/")
        slug = parts[2] if len(parts) > 2 else ""
        return slug if self._services.get(slug) else UNKNOWN_SERVICE

    def _error_language(self, scope: HTTPScope, headers: dict[bytes, bytes]) -> str:
        accept = header_text(headers, b"accept-language")
        return self._pages.catalogs.choose(query_parameters(scope).get("lang"), accept, "en")

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
        peer = client[0] if client else "unknown"
        request = Request(
            method=scope["method"],
            service=service,
            subpage=parts[2] if len(parts) == 3 else "",
            query=query_parameters(scope),
            headers=headers,
            client_address=self._proxies.client_address(
                peer, header_text(headers, b"x-forwarded-for")
            ),
        )
        if request.subpage:
            if request.method not in ("GET", "HEAD"):
                raise MethodNotAllowed("use GET")
            if request.subpage == "qr.svg":
                await self._responses.raw(
                    send, scope, 200, self._qr_codes.svg(service), _SVG_HEADERS
                )
                return
            layout, channel = self._presentation(request)
            page = self._pages.thanks(service, self._language(request), layout, channel)
            await self._responses.page(send, scope, 200, page, service=service)
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
            header_text(request.headers, b"accept-language"),
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

    async def _show_form(self, request: Request, scope: HTTPScope, send: Send) -> None:
        transaction = request.query.get("t", "")
        try:
            claims = self._transactions.admit(request.service, transaction)
        except CollectorError as error:
            await self._refuse(request, scope, send, error, {})
            return
        layout, channel = self._presentation(request)
        if claims is None:
            transaction = ""
        elif claims.channel:
            channel = claims.channel
        token = self._signer.issue(request.service.slug)
        language = self._language(request)
        page = self._pages.blank_form(
            request.service, language, layout, channel, token, transaction
        )
        # A view is a form shown to someone: HEAD shows nothing. Once per client
        # and a few minutes: its hash is computed here, with no Redis call.
        if request.method == "GET":
            client = self._hasher.view_hash(request.client_address)
            self._impressions.count(request.service.slug, client)
        await self._responses.page(send, scope, 200, page, service=request.service)

    async def _submit_with_error_pages(
        self, request: Request, scope: HTTPScope, receive: Receive, send: Send
    ) -> None:
        body = b""
        try:
            body = await read_form_body(request.headers, receive, self._body_timeout_seconds)
            await self._submit(request, scope, send, body)
        except CollectorError as error:
            # Only a refusal needs these: the accepted path does not parse the body twice.
            await self._refuse(request, scope, send, error, presentation_hints(body))

    async def _refuse(
        self,
        request: Request,
        scope: HTTPScope,
        send: Send,
        error: CollectorError,
        hints: dict[str, str],
    ) -> None:
        """A refusal inside the portal's frame, in the form's language, layout and theme,
        counted by reason; with a way back unless the portal's token is the problem."""
        await self._rejections.count(request.service.slug, error.reason)
        language = self._language(request, hints.get("lang"))
        layout, channel = self._presentation(request)
        layout = hints["layout"] if hints.get("layout") in LAYOUTS else layout
        channel = hints["channel"] if hints.get("channel") in CHANNELS else channel
        back = None
        if not error.reason.startswith("token_"):
            back = f"/w/{request.service.slug}?lang={language}&layout={layout}&channel={channel}"
            if hints.get("transaction"):
                back += "&" + urlencode({"t": hints["transaction"]})
        page = self._pages.message(language, error.page_message, request.service, layout, back=back)
        retry = [(b"retry-after", b"%d" % error.retry_after_seconds)]
        extra = retry if error.retry_after_seconds else []
        await self._responses.page(
            send, scope, error.status_code, page, extra, service=request.service
        )

    async def _submit(self, request: Request, scope: HTTPScope, send: Send, body: bytes) -> None:
        service = request.service
        try:
            form = decode_rating_form(body)
        except FormProblems as problems:
            refuse_unasked(
                service.config.questions,
                (q for q in QUESTIONS if problems.values.get(answer_field(q))),
            )
            # A filled honeypot is a bot's; anything else a person's slip, counted too so
            # that a form that confuses people shows up in the admin figures.
            reason = "honeypot" if "website" in problems.problems else "invalid_form"
            await self._rejections.count(service.slug, reason)
            language = self._language(request, problems.values.get("lang"))
            channel = problems.values.get("channel", "")
            layout = problems.values.get("layout", "")
            page = self._pages.form(
                service,
                language,
                layout if layout in LAYOUTS else service.config.layout,
                channel if channel in CHANNELS else "web",
                self._signer.issue(service.slug),
                transaction=problems.values.get("transaction", ""),
                problems=problems.problems,
                values=problems.values,
            )
            await self._responses.page(send, scope, 422, page, service=service)
            return
        answers = form.answers()
        refuse_unasked(service.config.questions, answers)
        language = self._language(request, form.lang)
        try:
            token = self._signer.verify(service.slug, form.token)
        except FormTokenError as error:
            reason = f"form_token_{error.problem.value}"
            if error.problem is not TokenProblem.EXPIRED:
                raise Forbidden(
                    f"form token refused: {error.problem.value}", reason=reason
                ) from None
            await self._rejections.count(service.slug, reason)
            token_again = self._signer.issue(service.slug)
            page = self._form_again(service, form, language, token_again, "form_expired")
            await self._responses.page(send, scope, 422, page, service=service)
            return
        if (
            self._minimum_fill_seconds
            and time.time() - token.issued_at < self._minimum_fill_seconds
        ):
            # Sent back sooner than a person fills it in. Shown again with the same token
            # (not used up): a person sends it again, a script that retries at once is
            # refused again.
            await self._rejections.count(service.slug, "too_fast")
            page = self._form_again(service, form, language, form.token, "form_too_fast")
            await self._responses.page(send, scope, 422, page, service=service)
            return
        claims = self._transactions.admit(service, form.transaction)
        user_agent = header_text(request.headers, b"user-agent") or ""
        received_at = int(self._clock() * 1000)
        client_hash = await self._client_hash(request)
        event = RatingEvent(
            id=new_rating_id(),
            service=service.slug,
            rating=form.rating,
            # Before the stream, the AOF and the spool see it: 16 us for a typical
            # comment with a phone in it, 150 us at the 1,000-character limit, up to
            # 1.4 ms for one written to be slow, refused or not (docs/privacy.md).
            comment=redact_within(form.comment, COMMENT_MAXIMUM_CHARACTERS),
            language=form.lang,
            channel=(claims.channel if claims else None) or form.channel,
            received_at=received_at,
            user_agent=user_agent[:USER_AGENT_MAXIMUM_CHARACTERS],
            answers=answers,
            transaction=claims.txn if claims else "",
            office=claims.office if claims else "",
            operator=claims.operator if claims else "",
            answer_seconds=claims.answer_seconds() if claims else None,
        )
        # Remember the transaction as long as its token could still be accepted, which
        # the verifier judges on the wall clock.
        remember = (claims.exp + LEEWAY_SECONDS) * 1000 - int(time.time() * 1000) if claims else 0
        try:
            if not client_hash:
                raise ServiceUnavailable("no client salt: Redis did not answer")
            result = await self._buffer.submit(
                event, token.nonce, remember, client_hash=client_hash
            )
        except ServiceUnavailable as error:
            if not await self._spooled(event, token.nonce, remember, error):
                # The same token again: if the rating did reach Redis after all, sending
                # it again shows the thank-you page and stores nothing twice.
                page = self._form_again(service, form, language, form.token, "error_not_saved")
                headers = [(b"retry-after", b"5")]
                await self._responses.page(send, scope, 503, page, headers, service=service)
                return
            result = _SPOOLED
        if result.outcome is Outcome.RATE_LIMITED:
            seconds = max(1, -(-result.retry_after_milliseconds // 1000))
            if result.limit == "service":
                raise TooManyRequests(
                    "this service's rate limit reached",
                    reason="rate_limited_service",
                    page_message="error_service_busy",
                    retry_after_seconds=seconds,
                )
            raise TooManyRequests("rate limit reached", retry_after_seconds=seconds)
        if result.outcome is Outcome.DUPLICATE:
            # Not a refusal: the citizen sees the thank-you page; admins see the count.
            await self._rejections.count(service.slug, "duplicate")
        location = (
            f"/w/{service.slug}/thanks?lang={language}&layout={form.layout}&channel={form.channel}"
        )
        redirect = [(b"location", location.encode()), security_headers.STRICT_POLICY]
        await self._responses.raw(send, scope, 303, b"", redirect)

    async def _client_hash(self, request: Request) -> str:
        """The client's salted hash; empty if Redis did not answer (the salt is there)."""
        try:
            return await self._hasher.hash(request.client_address)
        except ServiceUnavailable:
            return ""

    async def _spooled(
        self, event: RatingEvent, nonce: str, remember: int, error: ServiceUnavailable
    ) -> bool:
        """Keep the rating in the local spool when Redis did not take it; False when
        there is no spool or it failed too (the citizen is then told it was not saved)."""
        if self._spool is None:
            logger.warning("rating not saved for %s: %s", event.service, error.detail)
            return False
        try:
            await self._spool.append(event, nonce, remember)
        except OSError as spool_error:
            logger.error(
                "rating not saved for %s: %s; nor spooled: %s",
                event.service,
                error.detail,
                spool_error,
            )
            return False
        return True

    def _form_again(
        self, service: Service, form: RatingForm, language: str, token: str, notice: str
    ) -> Page:
        """The form filled in as the citizen sent it, with a notice: built only when a
        valid form could not be taken (expired, or Redis did not answer)."""
        values = {"rating": str(form.rating), "comment": form.comment, "website": ""}
        values.update({answer_field(q): value for q, value in form.answers().items()})
        return self._pages.form(
            service,
            language,
            form.layout,
            form.channel,
            token,
            transaction=form.transaction,
            values=values,
            notice=notice,
        )
