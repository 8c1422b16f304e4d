"""Transaction tokens: a portal's signed promise that a citizen just finished one
transaction (a case, an appeal) of one of its services.

The portal's back end signs a short-lived JWT with a key of its tenant (header `kid`);
the widget's link carries it as `?t=`. We verify it with the algorithm registered for
that key only, and require iss (the tenant), aud, svc, txn, iat, exp and jti. Every
refusal has a reason, so a portal team can see what their tokens get wrong.
"""

from __future__ import annotations

import enum
from typing import Annotated

import jwt
import msgspec

from collector.compact_jws import is_compact_jws
from collector.errors import Forbidden
from collector.messages import Channel
from collector.services import Service
from collector.signing_keys import ALGORITHMS, KeyRing

AUDIENCE = "civic-feedback:widget"
# A token a portal signs when the transaction ends; a link in an e-mail about an
# appeal's answer may be opened days later, but not months.
MAXIMUM_LIFETIME_SECONDS = 30 * 86400
LEEWAY_SECONDS = 60
MAXIMUM_TOKEN_CHARACTERS = 4096
_REQUIRED_CLAIMS = ["iss", "aud", "svc", "txn", "iat", "exp", "jti"]

Reference = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
Attribute = Annotated[str, msgspec.Meta(max_length=64, pattern=r"^[^\x00-\x1f]*$")]
NumericDate = Annotated[int, msgspec.Meta(ge=0, lt=2**40)]


class TokenRefusal(enum.Enum):
    """Why a transaction token was refused; also the rejection counter's name."""

    MALFORMED = "token_malformed"
    ALGORITHM = "token_algorithm"  # alg none, or not the key's algorithm
    UNKNOWN_KEY = "token_unknown_key"
    REVOKED_KEY = "token_revoked_key"
    BAD_SIGNATURE = "token_bad_signature"
    EXPIRED = "token_expired"
    NOT_YET_VALID = "token_not_yet_valid"
    WRONG_AUDIENCE = "token_wrong_audience"
    WRONG_ISSUER = "token_wrong_issuer"
    WRONG_SERVICE = "token_wrong_service"
    MISSING_CLAIM = "token_missing_claim"
    INVALID_CLAIM = "token_invalid_claim"
    TOO_LONG_LIVED = "token_too_long_lived"
    MISSING = "token_missing"  # the service requires a token and none came


class TransactionTokenError(Exception):
    def __init__(self, refusal: TokenRefusal, detail: str) -> None:
        super().__init__(f"{refusal.value}: {detail}")
        self.refusal = refusal
        self.detail = detail


class TransactionClaims(msgspec.Struct, frozen=True, kw_only=True):
    iss: str
    svc: str
    txn: Reference
    iat: NumericDate
    exp: NumericDate
    jti: Reference
    aud: str | list[str]
    nbf: NumericDate | None = None
    office: Attribute = ""
    operator: Attribute = ""
    channel: Channel | None = None
    case_opened_at: NumericDate | None = None
    case_answered_at: NumericDate | None = None

    def answer_seconds(self) -> int | None:
        """How long the agency took to answer the case, when the token says."""
        if self.case_opened_at is None or self.case_answered_at is None:
            return None
        return self.case_answered_at - self.case_opened_at


_REFUSALS: tuple[tuple[type[jwt.PyJWTError], TokenRefusal], ...] = (
    # Order matters: the more specific classes first.
    (jwt.InvalidSignatureError, TokenRefusal.BAD_SIGNATURE),
    (jwt.ExpiredSignatureError, TokenRefusal.EXPIRED),
    (jwt.ImmatureSignatureError, TokenRefusal.NOT_YET_VALID),
    (jwt.InvalidAudienceError, TokenRefusal.WRONG_AUDIENCE),
    (jwt.InvalidIssuerError, TokenRefusal.WRONG_ISSUER),
    (jwt.MissingRequiredClaimError, TokenRefusal.MISSING_CLAIM),
    (jwt.InvalidAlgorithmError, TokenRefusal.ALGORITHM),
    (jwt.InvalidIssuedAtError, TokenRefusal.INVALID_CLAIM),
)


class TransactionTokenVerifier:
    """Verifies tokens against the key ring, for one service at a time."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    def verify(self, token: str, service: Service) -> TransactionClaims:
        """The token's claims, or TransactionTokenError with the reason."""
        if not is_compact_jws(token, MAXIMUM_TOKEN_CHARACTERS):
            # Base64 decoding skips stray characters, so without this a token with
            # junk in its signature part would still verify.
            raise TransactionTokenError(TokenRefusal.MALFORMED, "not a compact JWT")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise TransactionTokenError(TokenRefusal.MALFORMED, str(error)) from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            raise TransactionTokenError(
                TokenRefusal.ALGORITHM, f"alg {str(algorithm)[:20]!r} is not accepted"
            )
        if not isinstance(kid, str) or not kid:
            raise TransactionTokenError(TokenRefusal.UNKNOWN_KEY, "the header has no kid")
        # Only the service's tenant's keys: another tenant's kid is as unknown as one
        # that exists nowhere, so a token cannot tell which kids other tenants use.
        found = self.keys.get(service.tenant_id, kid)
        if found is None:
            raise TransactionTokenError(TokenRefusal.UNKNOWN_KEY, f"no key {kid[:70]!r}")
        key, verifying_key = found
        if key.revoked:
            raise TransactionTokenError(TokenRefusal.REVOKED_KEY, f"key {kid!r} is revoked")
        if algorithm != key.algorithm:
            raise TransactionTokenError(
                TokenRefusal.ALGORITHM, f"key {kid!r} is registered for {key.algorithm}"
            )
        claims = self._decode(token, verifying_key, key.algorithm, key.tenant_id)
        if claims.svc != service.slug:
            raise TransactionTokenError(
                TokenRefusal.WRONG_SERVICE, f"the token is for service {claims.svc[:70]!r}"
            )
        if claims.exp - claims.iat > MAXIMUM_LIFETIME_SECONDS:
            raise TransactionTokenError(
                TokenRefusal.TOO_LONG_LIVED,
                f"exp - iat may be at most {MAXIMUM_LIFETIME_SECONDS} seconds",
            )
        answer_seconds = claims.answer_seconds()
        if answer_seconds is not None and answer_seconds < 0:
            raise TransactionTokenError(
                TokenRefusal.INVALID_CLAIM, "case_answered_at is before case_opened_at"
            )
        return claims

    def _decode(self, token: str, key: object, algorithm: str, issuer: str) -> TransactionClaims:
        try:
            payload = jwt.decode(
                token,
                key,  # type: ignore[arg-type]  # bytes or a cryptography public key
                algorithms=[algorithm],
                audience=AUDIENCE,
                issuer=issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as error:
            refusal = next(
                (refusal for kind, refusal in _REFUSALS if isinstance(error, kind)),
                TokenRefusal.MALFORMED,
            )
            raise TransactionTokenError(refusal, str(error)) from None
        try:
            return msgspec.convert(payload, TransactionClaims)
        except msgspec.ValidationError as error:
            raise TransactionTokenError(TokenRefusal.INVALID_CLAIM, str(error)) from None

    def admit(self, service: Service, token: str) -> TransactionClaims | None:
        """Apply the service's token policy: the verified claims, None when there is
        no token to use, or Forbidden (a friendly page, and the refusal's reason)."""
        policy = service.config.token_policy
        if policy == "off":
            return None
        if not token:
            if policy == "optional":
                return None
            raise Forbidden(
                f"service {service.slug!r} is rated only through its portal's link",
                field="t",
                reason=TokenRefusal.MISSING.value,
                page_message="error_token_required",
            )
        try:
            return self.verify(token, service)
        except TransactionTokenError as error:
            expired = error.refusal is TokenRefusal.EXPIRED
            raise Forbidden(
                f"transaction token refused ({error.refusal.value}): {error.detail}",
                field="t",
                reason=error.refusal.value,
                page_message="error_token_expired" if expired else "error_token_invalid",
            ) from None
