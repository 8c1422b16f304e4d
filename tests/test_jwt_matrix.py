"""Forged tokens, one table per kind of JWT the system accepts, each sent the way real
ones arrive: portal transaction tokens in the widget's `?t=` and form field, analyst
and admin tokens as API bearer tokens and pasted into the dashboard's sign-in, sign-in
link tokens posted to the link page, and session tokens in the dashboard's cookie.
Every kind has a positive control, so no table passes by refusing everything."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import time
from typing import Any

import httpx
import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from collector.auth import AUDIENCE, ISSUER, LINK_AUDIENCE
from collector.runtime import Runtime
from collector.services import DEMO_SERVICE
from collector.signing_keys import SigningKey
from collector.transaction_token import AUDIENCE as WIDGET_AUDIENCE
from collector.transaction_token import TokenRefusal
from tests.conftest import TEST_SECRET
from tests.helpers import bearer
from tests.portal_tokens import HS256_SECRET, claims, demo_keys, sign

# Tokens below are signed at collection: margins of hours, as the suite runs for minutes.
NOW = int(time.time())
ANALYST_KEY = hashlib.sha256(b"civic-feedback analyst token\0" + TEST_SECRET.encode()).digest()
ATTACKER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_ED25519 = ed25519.Ed25519PrivateKey.generate()
ATTACKER_SECRET = "an attacker's own secret, long enough for HS256"
PEM = {key.kid: key.material.encode() for key in demo_keys()}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def hmac_signed(
    header: dict[str, Any], payload: dict[str, Any], secret: bytes, digest_name: str = "sha256"
) -> str:
    """HMAC by hand: PyJWT will not sign with a PEM key, which is the attack (nor
    HS512 with a short key, without a warning)."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    digest = hmac.new(secret, signing_input.encode(), digest_name).digest()
    return f"{signing_input}.{b64(digest)}"


def unsigned(payload: dict[str, Any], signature: str = "", **header: Any) -> str:
    return f"{segment({'alg': 'none', **header})}.{segment(payload)}.{signature}"


def tampered(token: str, **changes: Any) -> str:
    """The token with claims changed and the original signature kept."""
    head, body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return f"{head}.{segment(payload | changes)}.{signature}"


def analyst(audience: str = AUDIENCE, **changes: Any) -> dict[str, Any]:
    """Valid analyst claims for tenant demo; a change to None removes the claim."""
    values = {"sub": "t", "tenant": "demo", "role": "admin", "iat": NOW, "exp": NOW + 3 * 3600}
    values |= {"iss": ISSUER, "aud": audience, "jti": "session-or-link-1"} | changes
    return {name: value for name, value in values.items() if value is not None}


def hs(payload: dict[str, Any], key: bytes | str = ANALYST_KEY, **header: Any) -> str:
    """HS256, signed whatever the claims' types (jwt.encode refuses a list as iss)."""
    secret = key.encode() if isinstance(key, str) else key
    return hmac_signed({"alg": "HS256", "typ": "JWT", **header}, payload, secret)


# --- portal transaction tokens: GET /w/{service}?t= and the POST's transaction field

T = TokenRefusal
TRANSACTION_ROWS: dict[str, tuple[str, TokenRefusal]] = {
    "alg none, no signature": (unsigned(claims(), kid="hs"), T.MALFORMED),
    "alg none, a signature": (unsigned(claims(), "c2ln", kid="hs"), T.ALGORITHM),
    "alg HS512 on the HS256 key": (
        hmac_signed({"alg": "HS512", "kid": "hs"}, claims(), HS256_SECRET.encode(), "sha512"),
        T.ALGORITHM,
    ),
    "HS256 keyed with the Ed25519 PEM": (
        hmac_signed({"alg": "HS256", "kid": "ed"}, claims(), PEM["ed"]),
        T.ALGORITHM,
    ),
    "HS256 keyed with the RSA PEM": (
        hmac_signed({"alg": "HS256", "kid": "rs"}, claims(), PEM["rs"]),
        T.ALGORITHM,
    ),
    "HS256 keyed with the RSA PEM, kid hs": (
        hmac_signed({"alg": "HS256", "kid": "hs"}, claims(), PEM["rs"]),
        T.BAD_SIGNATURE,
    ),
    "RS256 on the HS256 key": (
        jwt.encode(claims(), ATTACKER_RSA, "RS256", {"kid": "hs"}),
        T.ALGORITHM,
    ),
    "EdDSA on the RS256 key": (sign(claims(), "rs", "EdDSA"), T.ALGORITHM),
    "wrong aud: the API's": (sign(claims(aud=AUDIENCE)), T.WRONG_AUDIENCE),
    "wrong aud: a prefix": (sign(claims(aud="civic-feedback")), T.WRONG_AUDIENCE),
    "wrong aud: an extension": (sign(claims(aud=WIDGET_AUDIENCE + "x")), T.WRONG_AUDIENCE),
    "iss a prefix of the tenant": (sign(claims(iss="dem")), T.WRONG_ISSUER),
    "iss an extension of the tenant": (sign(claims(iss="demo-other")), T.WRONG_ISSUER),
    "iss a list holding the tenant": (
        hs(claims(iss=["demo"]), HS256_SECRET, kid="hs"),
        T.WRONG_ISSUER,
    ),
    "missing exp": (sign(claims(exp=None)), T.MISSING_CLAIM),
    "missing aud": (sign(claims(aud=None)), T.MISSING_CLAIM),
    "missing jti": (sign(claims(jti=None)), T.MISSING_CLAIM),
    "expired": (sign(claims(iat=NOW - 7200, exp=NOW - 3600)), T.EXPIRED),
    "nbf in the future": (sign(claims(nbf=NOW + 3600)), T.NOT_YET_VALID),
    "iat in the future": (sign(claims(iat=NOW + 3600, exp=NOW + 7200)), T.NOT_YET_VALID),
    "unknown kid": (sign(claims(), "nobody"), T.UNKNOWN_KEY),
    "missing kid": (sign(claims(), None), T.UNKNOWN_KEY),
    "kid not a string": (hs(claims(), HS256_SECRET, kid=7), T.MALFORMED),
    "revoked key": (sign(claims(), "revoked"), T.REVOKED_KEY),
    # Another tenant's kid is as unknown here as one nobody has...
    "another tenant's key": (
        hs(claims(), "other-tenant-secret-0123456789abc", kid="other"),
        T.UNKNOWN_KEY,
    ),
    # ...and a kid both use means this tenant's key.
    "another tenant's key of the same kid": (
        hs(claims(), "other-tenant-secret-0123456789abc", kid="hs"),
        T.BAD_SIGNATURE,
    ),
    "another service": (sign(claims(svc="other-service")), T.WRONG_SERVICE),
    "lives too long": (sign(claims(exp=NOW + 31 * 86400)), T.TOO_LONG_LIVED),
    "wrong HS256 secret": (hs(claims(), ATTACKER_SECRET, kid="hs"), T.BAD_SIGNATURE),
    "wrong Ed25519 key": (
        jwt.encode(claims(), ATTACKER_ED25519, "EdDSA", {"kid": "ed"}),
        T.BAD_SIGNATURE,
    ),
    "wrong RSA key": (jwt.encode(claims(), ATTACKER_RSA, "RS256", {"kid": "rs"}), T.BAD_SIGNATURE),
    "tampered payload": (tampered(sign(claims()), txn="APP-someone-else"), T.BAD_SIGNATURE),
    "an API token": (hs(analyst()), T.UNKNOWN_KEY),
    "a dashboard link token": (hs(analyst(LINK_AUDIENCE)), T.UNKNOWN_KEY),
}


@pytest.fixture
async def portal(runtime: Runtime) -> Runtime:
    """demo-passport requires a token; keys hs, ed, rs, a revoked one, another tenant's."""
    await runtime.storage.save_tenant("other", "Other agency")
    extra = [
        SigningKey(
            kid="revoked",
            tenant_id="demo",
            algorithm="HS256",
            material=HS256_SECRET,
            created_at=1,
            revoked_at=2,
        ),
        *(
            SigningKey(
                kid=kid,
                tenant_id="other",
                algorithm="HS256",
                material="other-tenant-secret-0123456789abc",
                created_at=1,
            )
            for kid in ("other", "hs")
        ),
    ]
    for key in [*demo_keys(), *extra]:
        await runtime.storage.save_signing_key(key)
    config = msgspec.structs.replace(DEMO_SERVICE.config, token_policy="required")
    await runtime.storage.save_service(msgspec.structs.replace(DEMO_SERVICE, config=config))
    await runtime.reload_services()
    await runtime.reload_keys()
    return runtime


async def send_transaction(
    client: httpx.AsyncClient, runtime: Runtime, how: str, token: str
) -> httpx.Response:
    if how == "link":
        return await client.get("/w/demo-passport", params={"t": token})
    form = {"token": runtime.signer.issue("demo-passport"), "rating": "4", "transaction": token}
    return await client.post("/w/demo-passport", data=form)


@pytest.mark.parametrize("how", ["link", "form"])
@pytest.mark.parametrize("row", sorted(TRANSACTION_ROWS))
async def test_forged_transaction_tokens_are_refused(
    portal: Runtime, client: httpx.AsyncClient, row: str, how: str
) -> None:
    token, reason = TRANSACTION_ROWS[row]
    response = await send_transaction(client, portal, how, token)
    assert response.status_code == 403
    counted = await portal.rejections.read(["demo-passport"], 1)
    assert counted == {"demo-passport": {reason.value: 1}}


@pytest.mark.parametrize("how", ["link", "form"])
@pytest.mark.parametrize("algorithm", ["HS256", "EdDSA", "RS256"])
async def test_genuine_transaction_tokens_are_accepted(
    portal: Runtime, client: httpx.AsyncClient, algorithm: str, how: str
) -> None:
    kid = {"HS256": "hs", "EdDSA": "ed", "RS256": "rs"}[algorithm]
    response = await send_transaction(client, portal, how, sign(claims(), kid, algorithm))
    assert response.status_code == (200 if how == "link" else 303)


# --- analyst and admin tokens: API bearer tokens, and pasted into the dashboard

INVALID = "invalid token: "
# The strict compact form is checked first: three base64url parts, no padding.
NOT_COMPACT = "not a compact JWT (three base64url parts, no padding)"
GENUINE = hs(analyst())
ANALYST_ROWS: dict[str, tuple[str, str]] = {
    # Was refused by PyJWT's alg check; the form check now refuses it first.
    "alg none, no signature": (unsigned(analyst()), NOT_COMPACT),
    "alg none, a signature": (
        unsigned(analyst(), "c2ln"),
        "The specified alg value is not allowed",
    ),
    "alg HS512 with our key": (
        hmac_signed({"alg": "HS512"}, analyst(), ANALYST_KEY, "sha512"),
        "The specified alg value is not allowed",
    ),
    "alg RS256": (
        jwt.encode(analyst(), ATTACKER_RSA, "RS256"),
        "The specified alg value is not allowed",
    ),
    "alg EdDSA": (
        jwt.encode(analyst(), ATTACKER_ED25519, "EdDSA"),
        "The specified alg value is not allowed",
    ),
    "wrong aud: the widget's": (hs(analyst(WIDGET_AUDIENCE)), "Audience doesn't match"),
    "wrong aud: a prefix": (hs(analyst("civic-feedback")), "Audience doesn't match"),
    "iss a prefix": (hs(analyst(iss=ISSUER[:-1])), "Invalid issuer"),
    "iss an extension": (hs(analyst(iss=ISSUER + ".evil")), "Invalid issuer"),
    "iss a list holding ours": (
        hs(analyst(iss=[ISSUER])),
        "Payload Issuer (iss) must be a string",
    ),
    "missing exp": (hs(analyst(exp=None)), 'Token is missing the "exp" claim'),
    "missing tenant": (hs(analyst(tenant=None)), 'Token is missing the "tenant" claim'),
    "expired": (hs(analyst(iat=NOW - 7200, exp=NOW - 3600)), "Signature has expired"),
    "nbf in the future": (hs(analyst(nbf=NOW + 3600)), "The token is not yet valid (nbf)"),
    "unknown kid, another key": (
        hs(analyst(), ATTACKER_SECRET, kid="k2"),
        "Signature verification failed",
    ),
    "wrong key": (hs(analyst(), ATTACKER_SECRET), "Signature verification failed"),
    "tampered payload": (
        tampered(hs(analyst(role="analyst")), role="platform"),
        "Signature verification failed",
    ),
    "a dashboard link token": (hs(analyst(LINK_AUDIENCE)), "Audience doesn't match"),
    "a portal transaction token": (sign(claims()), "Signature verification failed"),
    "a genuine token with padding": (GENUINE + "=", NOT_COMPACT),
    "a genuine token with two paddings": (GENUINE + "==", NOT_COMPACT),
    "a genuine token with a stray character": (f"{GENUINE[:-4]}!{GENUINE[-4:]}", NOT_COMPACT),
    "a genuine token with padded parts": (GENUINE.replace(".", "=."), NOT_COMPACT),
    "a genuine token with a fourth part": (GENUINE + ".e30", NOT_COMPACT),
    "a genuine token in the standard alphabet": (
        GENUINE[:-1] + ("+" if GENUINE[-1] == "-" else "/" if GENUINE[-1] == "_" else "+"),
        NOT_COMPACT,
    ),
}


@pytest.mark.parametrize("row", sorted(ANALYST_ROWS))
async def test_forged_analyst_tokens_are_refused(
    client: httpx.AsyncClient, runtime: Runtime, row: str
) -> None:
    token, reason = ANALYST_ROWS[row]
    api = await client.get("/api/v1/services/demo-passport/summary", headers=bearer(token))
    assert (api.status_code, api.json()["detail"]) == (401, INVALID + reason)
    pasted = await client.post("/dashboard/sign-in", data={"token": token})
    assert pasted.status_code == 401
    assert f"That token was not accepted: {INVALID}{reason}." in html.unescape(pasted.text)
    assert "set-cookie" not in pasted.headers


async def test_a_genuine_analyst_token_is_accepted(client: httpx.AsyncClient) -> None:
    token = hs(analyst())
    api = await client.get("/api/v1/services/demo-passport/summary", headers=bearer(token))
    pasted = await client.post("/dashboard/sign-in", data={"token": token})
    assert (api.status_code, pasted.status_code) == (200, 303)


# --- dashboard sign-in links: POST /dashboard/sign-in/link

LINK_ROWS: dict[str, tuple[str, str]] = {
    # Was refused by PyJWT's alg check; the form check now refuses it first.
    "alg none": (unsigned(analyst(LINK_AUDIENCE)), INVALID + NOT_COMPACT),
    "an API token": (hs(analyst()), INVALID + "Audience doesn't match"),
    "iss a prefix": (hs(analyst(LINK_AUDIENCE, iss=ISSUER[:-1])), INVALID + "Invalid issuer"),
    "missing exp": (
        hs(analyst(LINK_AUDIENCE, exp=None)),
        INVALID + 'Token is missing the "exp" claim',
    ),
    "expired": (hs(analyst(LINK_AUDIENCE, exp=NOW - 3600)), INVALID + "Signature has expired"),
    "wrong key": (
        hs(analyst(LINK_AUDIENCE), ATTACKER_SECRET),
        INVALID + "Signature verification failed",
    ),
    "tampered payload": (
        tampered(hs(analyst(LINK_AUDIENCE)), tenant="other"),
        INVALID + "Signature verification failed",
    ),
    "no token id": (hs(analyst(LINK_AUDIENCE, jti=None)), "this is not a sign-in link"),
    "a portal transaction token": (sign(claims()), INVALID + "Signature verification failed"),
}


@pytest.mark.parametrize("row", sorted(LINK_ROWS))
async def test_forged_sign_in_links_are_refused(client: httpx.AsyncClient, row: str) -> None:
    token, reason = LINK_ROWS[row]
    response = await client.post("/dashboard/sign-in/link", data={"token": token})
    assert response.status_code == 401
    assert f"This sign-in link does not work: {reason}." in html.unescape(response.text)


async def test_a_genuine_link_works_once(client: httpx.AsyncClient) -> None:
    token = hs(analyst(LINK_AUDIENCE))
    first = await client.post("/dashboard/sign-in/link", data={"token": token})
    again = await client.post("/dashboard/sign-in/link", data={"token": token})
    assert (first.status_code, again.status_code) == (303, 401)
    assert "has been used already" in again.text


# --- dashboard sessions: the cookie's token (no reason is shown: back to sign-in)

SESSION_ROWS: dict[str, str] = {
    "alg none": unsigned(analyst()),
    "a link token": hs(analyst(LINK_AUDIENCE)),
    "no token id (an API token)": hs(analyst(jti=None)),
    "iss an extension": hs(analyst(iss=ISSUER + "x")),
    "expired": hs(analyst(exp=NOW - 3600)),
    "wrong key": hs(analyst(), ATTACKER_SECRET),
    "tampered payload": tampered(hs(analyst()), tenant="other"),
    "a genuine token with padding": hs(analyst()) + "=",
}


@pytest.mark.parametrize("token", [*SESSION_ROWS.values(), "valid"], ids=[*SESSION_ROWS, "valid"])
async def test_dashboard_session_tokens(client: httpx.AsyncClient, token: str) -> None:
    cookie = hs(analyst()) if token == "valid" else token
    response = await client.get("/dashboard", headers={"cookie": f"dashboard_session={cookie}"})
    if token == "valid":
        assert response.status_code == 200
    else:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/dashboard/sign-in")
