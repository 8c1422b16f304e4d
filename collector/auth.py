"""Analyst and admin tokens: JWTs scoped to one tenant and one role.

Roles: analyst (reads the tenant's figures), admin (also manages the tenant's services
and signing keys), platform (the operator: every tenant, and creates tenants; its
tenant claim is "*"). HS256 only (the algorithm is pinned, so alg=none and
key-confusion tokens fail), with exp, iat, iss, aud, sub, tenant and role all required,
and in the strict compact form only (collector/compact_jws.py).
"""

from __future__ import annotations

import hashlib
import time
from typing import Literal

import jwt
import msgspec

from collector.compact_jws import is_compact_jws
from collector.errors import Unauthorized

ISSUER = "civic-feedback"
AUDIENCE = "civic-feedback:analytics"
# Dashboard sign-in links: their own audience, so a link's token works nowhere else
# (not as an API token, not pasted into the sign-in form).
LINK_AUDIENCE = "civic-feedback:dashboard-link"
_ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "tenant", "role"]

Role = Literal["analyst", "admin", "platform"]
ROLES: tuple[str, ...] = ("analyst", "admin", "platform")
PLATFORM_TENANT = "*"
# Ours are about 250 characters; a longer value is not worth verifying.
MAXIMUM_TOKEN_CHARACTERS = 4096


class AnalystClaims(msgspec.Struct, frozen=True):
    sub: str
    tenant: str
    role: Role
    exp: int
    iat: int
    iss: str
    aud: str
    jti: str = ""  # set on dashboard links and sessions, which can be ended early

    def may_manage(self, tenant_id: str) -> bool:
        """Whether this token may change the tenant's services and keys."""
        return self.role == "platform" or (self.role == "admin" and self.tenant == tenant_id)

    def may_read(self, tenant_id: str) -> bool:
        return self.role == "platform" or self.tenant == tenant_id


class AnalystTokens:
    """Issues and verifies analyst tokens with a key derived from the server secret."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"civic-feedback analyst token\0" + secret.encode()).digest()

    def issue(
        self,
        tenant: str,
        *,
        role: Role = "analyst",
        subject: str = "cli",
        lifetime_seconds: int = 30 * 86400,
        now: float | None = None,
        audience: str = AUDIENCE,
        token_id: str | None = None,
    ) -> str:
        issued_at = int(time.time() if now is None else now)
        claims: dict[str, str | int] = {
            "sub": subject,
            "tenant": tenant,
            "role": role,
            "iat": issued_at,
            "exp": issued_at + lifetime_seconds,
            "iss": ISSUER,
            "aud": audience,
        }
        if token_id:
            claims["jti"] = token_id
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def verify(self, token: str, audience: str = AUDIENCE) -> AnalystClaims:
        """Return the token's claims, or raise Unauthorized saying why not."""
        if not is_compact_jws(token, MAXIMUM_TOKEN_CHARACTERS):
            raise Unauthorized(
                "invalid token: not a compact JWT (three base64url parts, no padding)"
            )
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=audience,
                issuer=ISSUER,
                options={"require": _REQUIRED_CLAIMS},
            )
            verified = msgspec.convert(claims, AnalystClaims)
        except jwt.PyJWTError as error:
            raise Unauthorized(f"invalid token: {error}") from None
        except msgspec.ValidationError as error:
            raise Unauthorized(f"invalid token claims: {error}") from None
        if (verified.role == "platform") != (verified.tenant == PLATFORM_TENANT):
            raise Unauthorized(f"the tenant {PLATFORM_TENANT!r} goes with the platform role only")
        return verified

    def verify_header(self, authorization: str | None) -> AnalystClaims:
        """Verify an `Authorization: Bearer <token>` header."""
        if not authorization:
            raise Unauthorized("missing Authorization header (Bearer token)")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return self.verify(token.strip())
