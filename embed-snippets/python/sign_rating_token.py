"""Sign a civic-feedback transaction token and build the rating widget's URL (PyJWT).

Call sign_rating_token() on your portal's server when a citizen's transaction ends,
and put widget_url() into the iframe's src. The secret (HS256) or the Ed25519 private
key (EdDSA) must stay on the server: never send it to a browser or put it in a page.

    pip install "pyjwt[crypto]"    # [crypto] is needed for EdDSA only
    CF_KID=... CF_SECRET=... CF_TENANT=demo CF_SERVICE=demo-passport CF_TXN=APP-1 \
        python sign_rating_token.py

Environment: CF_KID, CF_TENANT, CF_SERVICE, CF_TXN, and CF_SECRET (HS256) or
CF_PRIVATE_KEY_FILE (an Ed25519 PKCS#8 PEM: EdDSA); optional CF_OFFICE, CF_OPERATOR,
CF_CASE_OPENED_AT, CF_CASE_ANSWERED_AT (seconds since 1970) and CF_LIFETIME (seconds,
default 3600). Prints the token.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import jwt

AUDIENCE = "civic-feedback:widget"


def sign_rating_token(
    kid: str,
    key: str,
    tenant: str,
    service: str,
    transaction: str,
    attributes: Mapping[str, str | int] | None = None,
    *,
    algorithm: str = "HS256",
    lifetime: int = 3600,
) -> str:
    """A token for one finished transaction.

    key: the HS256 secret exactly as you were given it (not base64-decoded), or, with
    algorithm="EdDSA", your Ed25519 private key as PEM. attributes: optional claims
    office, operator, channel, case_opened_at, case_answered_at.
    """
    now = int(time.time())
    claims = {
        **(attributes or {}),
        "iss": tenant,
        "aud": AUDIENCE,
        "svc": service,
        "txn": transaction,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_hex(16),
    }
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid, "typ": "JWT"})


def widget_url(collector: str, service: str, token: str) -> str:
    """The widget's address for the iframe's src, e.g. collector="https://feedback.example.gov"."""
    return f"{collector.rstrip('/')}/w/{quote(service, safe='')}?t={token}"


def main() -> None:
    env = os.environ
    attributes: dict[str, str | int] = {}
    for name in ("office", "operator"):
        if env.get(f"CF_{name.upper()}"):
            attributes[name] = env[f"CF_{name.upper()}"]
    for name in ("case_opened_at", "case_answered_at"):
        if env.get(f"CF_{name.upper()}"):
            attributes[name] = int(env[f"CF_{name.upper()}"])
    if env.get("CF_PRIVATE_KEY_FILE"):
        key, algorithm = Path(env["CF_PRIVATE_KEY_FILE"]).read_text(), "EdDSA"
    else:
        key, algorithm = env["CF_SECRET"], "HS256"
    token = sign_rating_token(
        env["CF_KID"],
        key,
        env["CF_TENANT"],
        env["CF_SERVICE"],
        env["CF_TXN"],
        attributes,
        algorithm=algorithm,
        lifetime=int(env.get("CF_LIFETIME") or 3600),
    )
    print(token)


if __name__ == "__main__":
    main()
