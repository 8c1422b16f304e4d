"""Form tokens: an HMAC over (service, issue time, nonce), put in a hidden field.

A POST without a token we issued for this service is refused, so a rating cannot be
forged from another site; the issue time bounds how long a form stays valid; the nonce
lets the hot path accept each form once (a replay shows the thank-you page again and
stores nothing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass
from enum import Enum

_SIGNATURE_BYTES = 16
_NONCE_BYTES = 12
# A form issued by a collector whose clock runs a little ahead is still fine.
CLOCK_SKEW_SECONDS = 60
_CANONICAL_TIME = re.compile(r"[1-9][0-9]{0,11}")


class TokenProblem(Enum):
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"


@dataclass(slots=True)  # not frozen: made once per rating (see widget_request.Request)
class FormToken:
    issued_at: int
    nonce: str


class FormTokenError(Exception):
    def __init__(self, problem: TokenProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class FormTokenSigner:
    """Issues and verifies form tokens with one server secret."""

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._key = hashlib.sha256(b"civic-feedback form token\0" + secret.encode()).digest()
        self._max_age = max_age_seconds

    def _signature(self, service: str, issued_at: int, nonce: str) -> str:
        message = f"{service}\n{issued_at}\n{nonce}".encode()
        digest = hmac.digest(self._key, message, "sha256")  # one-shot: no HMAC object
        return _encode(digest[:_SIGNATURE_BYTES])

    def issue(self, service: str, now: float | None = None) -> str:
        issued_at = int(time.time() if now is None else now)
        nonce = _encode(os.urandom(_NONCE_BYTES))
        return f"{issued_at}.{nonce}.{self._signature(service, issued_at, nonce)}"

    def verify(self, service: str, token: str, now: float | None = None) -> FormToken:
        """Return the token's contents, or raise FormTokenError saying what is wrong."""
        # Only the exact form issue() writes: ASCII, a canonical decimal time (no
        # leading zero, no other script's digits), so each form has one valid token.
        parts = token.split(".") if token.isascii() else []
        if len(parts) != 3 or not _CANONICAL_TIME.fullmatch(parts[0]):
            raise FormTokenError(TokenProblem.MALFORMED)
        issued_at, nonce, signature = int(parts[0]), parts[1], parts[2]
        expected = self._signature(service, issued_at, nonce)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise FormTokenError(TokenProblem.BAD_SIGNATURE)
        current = time.time() if now is None else now
        if issued_at > current + CLOCK_SKEW_SECONDS or current - issued_at > self._max_age:
            raise FormTokenError(TokenProblem.EXPIRED)
        return FormToken(issued_at=issued_at, nonce=nonce)
