"""Transaction tokens: every token the portal could send, and what we make of it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import msgspec
import pytest

from collector.errors import Forbidden
from collector.services import DEMO_SERVICE, Service, ServiceConfig
from collector.signing_keys import KeyRing
from collector.transaction_token import (
    MAXIMUM_LIFETIME_SECONDS,
    TokenRefusal,
    TransactionTokenError,
    TransactionTokenVerifier,
)
from tests.portal_tokens import RSA_PRIVATE, claims, demo_keys, public_pem, sign


@pytest.fixture
def verifier() -> TransactionTokenVerifier:
    return TransactionTokenVerifier(KeyRing(demo_keys()))


def _segment(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hmac_signed_with(secret: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A token signed by hand, for what PyJWT refuses to make (HMAC with a PEM key)."""
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.mark.parametrize("algorithm", ["HS256", "EdDSA", "RS256"])
def test_each_algorithm_verifies_with_its_key(
    verifier: TransactionTokenVerifier, algorithm: str
) -> None:
    kid = {"HS256": "hs", "EdDSA": "ed", "RS256": "rs"}[algorithm]
    payload = claims(office="yerevan-1", operator="op-7", channel="kiosk")
    verified = verifier.verify(sign(payload, kid, algorithm), DEMO_SERVICE)
    assert (verified.txn, verified.office, verified.operator, verified.channel) == (
        payload["txn"],
        "yerevan-1",
        "op-7",
        "kiosk",
    )


def test_case_timestamps_give_the_answer_time(verifier: TransactionTokenVerifier) -> None:
    payload = claims(case_opened_at=1_790_000_000, case_answered_at=1_790_086_400)
    assert verifier.verify(sign(payload), DEMO_SERVICE).answer_seconds() == 86_400
    assert verifier.verify(sign(claims()), DEMO_SERVICE).answer_seconds() is None


def _tampered_payload() -> str:
    header, _, signature = sign(claims()).split(".")
    return f"{header}.{_segment(claims(txn='SOMEONE-ELSE'))}.{signature}"


def _tampered_signature() -> str:
    token = sign(claims())
    last = "A" if token[-2] != "A" else "B"
    return token[:-2] + last + token[-1]


def now() -> int:
    """At the test's own run, not at collection: a long suite ran past now() + 600."""
    return int(time.time())


REFUSED = [
    pytest.param(lambda: "not-a-jwt", TokenRefusal.MALFORMED, id="garbage"),
    pytest.param(lambda: sign(claims()) + '"><b>', TokenRefusal.MALFORMED, id="html-in-signature"),
    pytest.param(lambda: "a" * 5000, TokenRefusal.MALFORMED, id="oversized"),
    pytest.param(
        lambda: (
            hmac_signed_with(b"", {"alg": "none", "kid": "hs"}, claims()).rsplit(".", 1)[0] + "."
        ),
        TokenRefusal.MALFORMED,
        id="alg-none-empty-signature",
    ),
    pytest.param(
        lambda: hmac_signed_with(b"x", {"alg": "none", "kid": "hs"}, claims()),
        TokenRefusal.ALGORITHM,
        id="alg-none",
    ),
    pytest.param(
        lambda: hmac_signed_with(b"x", {"alg": "HS512", "kid": "hs"}, claims()),
        TokenRefusal.ALGORITHM,
        id="alg-not-accepted",
    ),
    pytest.param(
        lambda: hmac_signed_with(
            public_pem(RSA_PRIVATE).encode(), {"alg": "HS256", "kid": "rs"}, claims()
        ),
        TokenRefusal.ALGORITHM,
        id="hs-rs-confusion",
    ),
    pytest.param(lambda: sign(claims(), kid="ed"), TokenRefusal.ALGORITHM, id="alg-not-the-keys"),
    pytest.param(lambda: sign(claims(), kid="nobody"), TokenRefusal.UNKNOWN_KEY, id="unknown-kid"),
    pytest.param(lambda: sign(claims(), kid=None), TokenRefusal.UNKNOWN_KEY, id="no-kid"),
    pytest.param(_tampered_payload, TokenRefusal.BAD_SIGNATURE, id="tampered-payload"),
    pytest.param(_tampered_signature, TokenRefusal.BAD_SIGNATURE, id="tampered-signature"),
    pytest.param(
        lambda: hmac_signed_with(b"another secret", {"alg": "HS256", "kid": "hs"}, claims()),
        TokenRefusal.BAD_SIGNATURE,
        id="forged",
    ),
    pytest.param(
        lambda: sign(claims(iat=now() - 7200, exp=now() - 3600)), TokenRefusal.EXPIRED, id="expired"
    ),
    pytest.param(
        lambda: sign(claims(nbf=now() + 600)), TokenRefusal.NOT_YET_VALID, id="not-yet-valid"
    ),
    pytest.param(
        lambda: sign(claims(iat=now() + 600, exp=now() + 4200)),
        TokenRefusal.NOT_YET_VALID,
        id="issued-in-the-future",
    ),
    pytest.param(
        lambda: sign(claims(aud="civic-feedback:analytics")),
        TokenRefusal.WRONG_AUDIENCE,
        id="wrong-audience",
    ),
    pytest.param(lambda: sign(claims(iss="dem")), TokenRefusal.WRONG_ISSUER, id="iss-prefix"),
    pytest.param(lambda: sign(claims(iss="demo2")), TokenRefusal.WRONG_ISSUER, id="iss-longer"),
    pytest.param(
        lambda: sign(claims(svc="other-service")), TokenRefusal.WRONG_SERVICE, id="other-service"
    ),
    *(
        pytest.param(
            lambda name=name: sign(claims(**{name: None})),
            TokenRefusal.MISSING_CLAIM,
            id=f"missing-{name}",
        )
        for name in ("exp", "iat", "iss", "aud", "svc", "txn", "jti")
    ),
    pytest.param(lambda: sign(claims(txn="")), TokenRefusal.INVALID_CLAIM, id="empty-txn"),
    pytest.param(lambda: sign(claims(txn="x" * 129)), TokenRefusal.INVALID_CLAIM, id="long-txn"),
    pytest.param(lambda: sign(claims(txn="a\nb")), TokenRefusal.INVALID_CLAIM, id="control-txn"),
    pytest.param(
        lambda: sign(claims(channel="carrier-pigeon")), TokenRefusal.INVALID_CLAIM, id="channel"
    ),
    pytest.param(
        lambda: sign(claims(office="o" * 65)), TokenRefusal.INVALID_CLAIM, id="long-office"
    ),
    pytest.param(
        lambda: sign(claims(case_opened_at=200, case_answered_at=100)),
        TokenRefusal.INVALID_CLAIM,
        id="answered-before-opened",
    ),
    pytest.param(
        lambda: sign(claims(exp=now() + MAXIMUM_LIFETIME_SECONDS + 3600)),
        TokenRefusal.TOO_LONG_LIVED,
        id="too-long-lived",
    ),
]


@pytest.mark.parametrize(("make_token", "refusal"), REFUSED)
def test_refusals_name_their_reason(
    verifier: TransactionTokenVerifier, make_token: Any, refusal: TokenRefusal
) -> None:
    with pytest.raises(TransactionTokenError) as caught:
        verifier.verify(make_token(), DEMO_SERVICE)
    assert caught.value.refusal is refusal, caught.value.detail


def test_a_key_of_another_tenant_is_unknown_to_this_service() -> None:
    verifier = TransactionTokenVerifier(KeyRing(demo_keys(tenant="city-hall")))
    with pytest.raises(TransactionTokenError) as caught:
        verifier.verify(sign(claims(iss="city-hall")), DEMO_SERVICE)
    # As for a kid nobody has: the refusal does not tell that another tenant has it.
    assert caught.value.refusal is TokenRefusal.UNKNOWN_KEY
    assert caught.value.detail == "no key 'hs'"


def test_a_revoked_key_fails_and_a_rotated_one_works() -> None:
    keys = demo_keys()
    ring = KeyRing(keys)
    verifier = TransactionTokenVerifier(ring)
    token = sign(claims())
    assert verifier.verify(token, DEMO_SERVICE)
    ring.replace([msgspec.structs.replace(keys[0], revoked_at=now()), *keys[1:]])
    with pytest.raises(TransactionTokenError) as caught:
        verifier.verify(token, DEMO_SERVICE)
    assert caught.value.refusal is TokenRefusal.REVOKED_KEY
    assert verifier.verify(sign(claims(), "ed", "EdDSA"), DEMO_SERVICE)


def _with_policy(policy: str) -> Service:
    config = msgspec.structs.replace(ServiceConfig(), token_policy=policy)
    return msgspec.structs.replace(DEMO_SERVICE, config=config)


def test_policy_off_ignores_tokens_even_bad_ones(verifier: TransactionTokenVerifier) -> None:
    assert verifier.admit(_with_policy("off"), "garbage") is None


def test_policy_optional_verifies_a_token_when_there_is_one(
    verifier: TransactionTokenVerifier,
) -> None:
    service = _with_policy("optional")
    assert verifier.admit(service, "") is None
    assert verifier.admit(service, sign(claims())) is not None
    with pytest.raises(Forbidden) as caught:
        verifier.admit(service, sign(claims(iat=now() - 7200, exp=now() - 3600)))
    assert (caught.value.reason, caught.value.page_message) == (
        "token_expired",
        "error_token_expired",
    )


def test_policy_required_refuses_a_visit_without_a_token(
    verifier: TransactionTokenVerifier,
) -> None:
    service = _with_policy("required")
    with pytest.raises(Forbidden) as caught:
        verifier.admit(service, "")
    assert (caught.value.reason, caught.value.page_message) == (
        "token_missing",
        "error_token_required",
    )
    with pytest.raises(Forbidden) as caught:
        verifier.admit(service, sign(claims(), kid="nobody"))
    assert (caught.value.reason, caught.value.page_message) == (
        "token_unknown_key",
        "error_token_invalid",
    )
