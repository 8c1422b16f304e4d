"""The dashboard's sign-in session: an analyst token in a cookie.

Signing in, by a pasted token or by a short-lived link from `collector dashboard-link`,
puts a NEW token of the same tenant and role in the cookie, valid for a working day:
the link expires within minutes, the session does not. A link works once (its token
id is recorded in Redis when used), so a link copied from a chat's history after use
opens nothing; its token has an audience of its own, so it is no API token either.
Signing out records the session's token id as ended, so a copied cookie dies with it.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlencode

from litestar import Request
from litestar.datastructures import Cookie
from redis.exceptions import RedisError

from collector import keys
from collector.auth import AUDIENCE, LINK_AUDIENCE, AnalystClaims, AnalystTokens, Role
from collector.errors import ServiceUnavailable, Unauthorized
from collector.runtime import Runtime

COOKIE_NAME = "dashboard_session"
COOKIE_PATH = "/dashboard"
SESSION_SECONDS = 8 * 3600
LINK_PATH = "/dashboard/sign-in/link"
DEFAULT_LINK_MINUTES = 15
# Longer than any page's token field needs; a longer value is not worth verifying.
LONGEST_TOKEN = 4096


class SignInNeeded(Exception):
    """A dashboard page was asked for without a valid session."""


def sign_in_link(
    public_url: str, tokens: AnalystTokens, tenant: str, role: Role, minutes: int
) -> str:
    """The URL that signs its first visitor in, valid for `minutes`."""
    token = tokens.issue(
        tenant,
        role=role,
        subject="dashboard-link",
        lifetime_seconds=minutes * 60,
        audience=LINK_AUDIENCE,
        token_id=secrets.token_urlsafe(16),
    )
    return f"{public_url}{LINK_PATH}?{urlencode({'token': token})}"


def verify(runtime: Runtime, token: str, audience: str = AUDIENCE) -> AnalystClaims:
    """The token's claims, or Unauthorized saying why not."""
    token = token.strip()
    if not token:
        raise Unauthorized("paste a token to sign in")
    if len(token) > LONGEST_TOKEN:
        raise Unauthorized("this is not a token: it is far too long")
    return runtime.analyst_tokens.verify(token, audience)


async def redeem_link(runtime: Runtime, token: str) -> AnalystClaims:
    """Verify a sign-in link's token and mark its id used until it expires (the id,
    not the text: the same signature can be written in more than one way)."""
    claims = verify(runtime, token, LINK_AUDIENCE)
    if not claims.jti:
        raise Unauthorized("this is not a sign-in link")
    remaining = max(1, claims.exp - int(time.time()))
    # Not re-sent: a second SET NX after a lost reply would call the link used. (Opened
    # again after such an error, it is refused as used: the analyst asks for a new one.)
    try:
        first_use = await runtime.redis.set(
            keys.dashboard_link(claims.jti), b"1", nx=True, ex=remaining
        )
    except (RedisError, OSError) as error:
        raise ServiceUnavailable(f"could not check the link just now ({error})") from None
    if not first_use:
        raise Unauthorized("this sign-in link has been used already; ask for a new one")
    return claims


async def current_claims(request: Request, runtime: Runtime) -> AnalystClaims:  # type: ignore[type-arg]
    """The signed-in analyst's claims, or SignInNeeded (no cookie, a bad or expired
    token, or a session ended by signing out)."""
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        raise SignInNeeded
    try:
        claims = runtime.analyst_tokens.verify(token)
    except Unauthorized:
        raise SignInNeeded from None
    if not claims.jti:  # a cookie this dashboard did not write
        raise SignInNeeded
    try:  # EXISTS only reads
        ended = await runtime.redis.exists(keys.dashboard_session_ended(claims.jti))
    except (RedisError, OSError) as error:
        raise ServiceUnavailable(f"could not check the session just now ({error})") from None
    if ended:
        raise SignInNeeded
    return claims


async def end_session(request: Request, runtime: Runtime) -> None:  # type: ignore[type-arg]
    """Record the cookie's session as ended until its token would have expired."""
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return
    try:
        claims = runtime.analyst_tokens.verify(token)
    except Unauthorized:
        return
    if claims.jti:
        remaining = max(1, claims.exp - int(time.time()))
        try:  # SET EX ends the session whether it runs once or twice; not re-sent
            await runtime.redis.set(keys.dashboard_session_ended(claims.jti), b"1", ex=remaining)
        except (RedisError, OSError) as error:
            raise ServiceUnavailable(f"could not end the session just now ({error})") from None


def _secure(runtime: Runtime) -> bool:
    return runtime.settings.effective_public_url.startswith("https://")


def session_cookie(runtime: Runtime, claims: AnalystClaims) -> Cookie:
    """A cookie holding a fresh token of the same tenant and role, for a working day."""
    token = runtime.analyst_tokens.issue(
        claims.tenant,
        role=claims.role,
        subject=claims.sub,
        lifetime_seconds=SESSION_SECONDS,
        token_id=secrets.token_urlsafe(16),
    )
    return Cookie(
        key=COOKIE_NAME,
        value=token,
        path=COOKIE_PATH,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=_secure(runtime),
    )


def cleared_cookie(runtime: Runtime) -> Cookie:
    return Cookie(
        key=COOKIE_NAME,
        value="",
        path=COOKIE_PATH,
        max_age=0,
        expires=0,
        httponly=True,
        samesite="strict",
        secure=_secure(runtime),
    )
