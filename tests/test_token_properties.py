"""Token verifiers, property by property: whatever string arrives, each verifier returns
the token's contents or raises its own refusal (FormTokenError, TransactionTokenError,
Unauthorized), never anything else; a changed valid token is refused, or, where base64
lets one signature be written two ways, verifies to exactly the same claims."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from collector.auth import LINK_AUDIENCE, AnalystClaims, AnalystTokens
from collector.errors import Unauthorized
from collector.form_token import FormToken, FormTokenError, FormTokenSigner
from collector.services import DEMO_SERVICE
from collector.signing_keys import KeyRing
from collector.transaction_token import (
    TransactionClaims,
    TransactionTokenError,
    TransactionTokenVerifier,
)
from tests.conftest import TEST_SECRET
from tests.portal_tokens import (
    ED25519_PRIVATE,
    HS256_SECRET,
    RSA_PRIVATE,
    claims,
    demo_keys,
    sign,
)

NOW = 1_790_000_000
FORMS = FormTokenSigner(TEST_SECRET, max_age_seconds=3600)
ANALYST_TOKENS = AnalystTokens(TEST_SECRET)
TRANSACTIONS = TransactionTokenVerifier(KeyRing(demo_keys()))
ALGORITHM_KIDS = {"HS256": "hs", "EdDSA": "ed", "RS256": "rs"}

Verified = FormToken | TransactionClaims | AnalystClaims


def verify_form(token: str) -> FormToken:
    return FORMS.verify(DEMO_SERVICE.slug, token, now=NOW)


def verify_transaction(token: str) -> TransactionClaims:
    return TRANSACTIONS.verify(token, DEMO_SERVICE)


def verify_api(token: str) -> AnalystClaims:
    return ANALYST_TOKENS.verify(token)


def verify_link(token: str) -> AnalystClaims:
    return ANALYST_TOKENS.verify(token, LINK_AUDIENCE)


# Each verifier with the one exception it documents.
VERIFIERS: dict[str, tuple[Callable[[str], Verified], type[Exception]]] = {
    "form": (verify_form, FormTokenError),
    "transaction": (verify_transaction, TransactionTokenError),
    "api": (verify_api, Unauthorized),
    "dashboard-link": (verify_link, Unauthorized),
}


def valid_token(kind: str, algorithm: str = "HS256") -> str:
    if kind == "form":
        return FORMS.issue(DEMO_SERVICE.slug, now=NOW)
    if kind == "transaction":
        return sign(claims(), ALGORITHM_KIDS[algorithm], algorithm)
    if kind == "api":
        return ANALYST_TOKENS.issue("demo", role="admin")
    return ANALYST_TOKENS.issue(
        "demo", role="analyst", lifetime_seconds=900, audience=LINK_AUDIENCE, token_id="link-1"
    )


def outcome(kind: str, token: str) -> Verified | Exception:
    """The verifier's answer; any exception but its own fails the test."""
    verify, refusal = VERIFIERS[kind]
    try:
        return verify(token)
    except refusal as error:
        return error


jwt_like = st.lists(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", max_size=60
    ),
    min_size=1,
    max_size=5,
).map(".".join)
strings = st.one_of(st.text(max_size=300), jwt_like)


@pytest.mark.parametrize("kind", sorted(VERIFIERS))
@given(token=strings)
@example(token="")
@example(token="..")
@example(token="e30.e30.")  # {} . {} . no signature
def test_arbitrary_strings_are_refused(kind: str, token: str) -> None:
    assert isinstance(outcome(kind, token), VERIFIERS[kind][1])


def flip(token: str, position: int, bit: int) -> str:
    """The token with one bit of one character changed (kept a valid code point)."""
    index = position % len(token)
    changed = chr(ord(token[index]) ^ (1 << bit))
    return token[:index] + changed + token[index + 1 :]


KINDS_AND_ALGORITHMS = [
    ("form", "HS256"),
    ("transaction", "HS256"),
    ("transaction", "EdDSA"),
    ("transaction", "RS256"),
    ("api", "HS256"),
    ("dashboard-link", "HS256"),
]


@pytest.mark.parametrize(("kind", "algorithm"), KINDS_AND_ALGORITHMS)
@given(data=st.data())
def test_changed_valid_tokens_are_refused_or_mean_the_same(
    kind: str, algorithm: str, data: st.DataObject
) -> None:
    original = valid_token(kind, algorithm)
    expected = outcome(kind, original)
    assert not isinstance(expected, Exception)  # the control: unchanged, it verifies
    mutation = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    position = data.draw(st.integers(0, len(original) - 1))
    if mutation == "flip":
        changed = flip(original, position, data.draw(st.integers(0, 6)))
    elif mutation == "truncate":
        changed = original[:position]
    elif mutation == "insert":
        changed = original[:position] + data.draw(st.characters()) + original[position:]
    else:
        changed = original[:position] + original[position + 1 :]
    result = outcome(kind, changed)
    if not isinstance(result, Exception):
        # Only the signature's last base64 character has spare bits; the rest is
        # signed text, so the claims are the original's.
        assert kind != "form"
        assert result == expected
        assert changed.rsplit(".", 1)[0] == original.rsplit(".", 1)[0]


def signed_json(payload: dict[str, Any], key: Any, algorithm: str, kid: str | None = None) -> str:
    """A JWS over any JSON (jwt.encode refuses some claim types we want to send)."""
    headers = {"kid": kid} if kid else None
    return jwt.api_jws.encode(json.dumps(payload).encode(), key, algorithm, headers)


claim_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # inf and NaN too: Python's JSON writes and reads them
    st.text(max_size=20),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
TRANSACTION_CLAIMS = ["iss", "aud", "svc", "txn", "iat", "exp", "nbf", "jti", "channel"]
ANALYST_CLAIMS = ["sub", "tenant", "role", "iat", "exp", "iss", "aud", "jti"]


@pytest.mark.parametrize("algorithm", sorted(ALGORITHM_KIDS))
@given(changes=st.dictionaries(st.sampled_from(TRANSACTION_CLAIMS), claim_values, max_size=4))
def test_signed_transaction_tokens_with_any_claims_never_crash(
    algorithm: str, changes: dict[str, Any]
) -> None:
    """A portal holding a real key can put anything in the payload."""
    key = {"HS256": HS256_SECRET, "EdDSA": ED25519_PRIVATE, "RS256": RSA_PRIVATE}[algorithm]
    token = signed_json(claims() | changes, key, algorithm, ALGORITHM_KIDS[algorithm])
    outcome("transaction", token)


@pytest.mark.parametrize("kind", ["api", "dashboard-link"])
@given(changes=st.dictionaries(st.sampled_from(ANALYST_CLAIMS), claim_values, max_size=4))
def test_signed_analyst_tokens_with_any_claims_never_crash(
    kind: str, changes: dict[str, Any]
) -> None:
    """Only we hold the key; still, a bug in what we issue must not become a 500."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": "cli",
        "tenant": "demo",
        "role": "analyst",
        "iat": now,
        "exp": now + 60,
        "iss": "civic-feedback",
        "aud": "civic-feedback:analytics",
    }
    payload.update(changes)
    # Signed with the real key (private: only this test forges with it).
    token = signed_json(payload, ANALYST_TOKENS._key, "HS256")
    outcome(kind, token)


@given(header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "b64"]), claim_values))
def test_any_header_is_refused_or_verified_never_a_crash(header: dict[str, Any]) -> None:
    """A header's fields, typed or not, before any signature is checked."""
    segment = jwt.utils.base64url_encode(json.dumps(header).encode()).decode()
    rest = sign(claims()).split(".", 1)[1]
    outcome("transaction", f"{segment}.{rest}")
    outcome("api", f"{segment}.{rest}")
