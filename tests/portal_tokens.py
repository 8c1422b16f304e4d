"""Transaction tokens as a portal's back end signs them, for tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from collector.signing_keys import SigningKey
from collector.transaction_token import AUDIENCE

HS256_SECRET = "portal-secret-of-the-demo-tenant-0123456789abc"
ED25519_PRIVATE = ed25519.Ed25519PrivateKey.generate()
RSA_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def demo_keys(tenant: str = "demo") -> list[SigningKey]:
    """One key per algorithm: kids hs, ed and rs."""
    return [
        SigningKey(
            kid="hs", tenant_id=tenant, algorithm="HS256", material=HS256_SECRET, created_at=1
        ),
        SigningKey(
            kid="ed",
            tenant_id=tenant,
            algorithm="EdDSA",
            material=public_pem(ED25519_PRIVATE),
            created_at=1,
        ),
        SigningKey(
            kid="rs",
            tenant_id=tenant,
            algorithm="RS256",
            material=public_pem(RSA_PRIVATE),
            created_at=1,
        ),
    ]


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for demo-passport; a change to None removes the claim."""
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": "demo",
        "aud": AUDIENCE,
        "svc": "demo-passport",
        "txn": f"APP-{uuid.uuid4().hex[:10]}",
        "iat": now,
        "exp": now + 3600,
        "jti": uuid.uuid4().hex,
    }
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


def sign(payload: dict[str, Any], kid: str | None = "hs", algorithm: str = "HS256") -> str:
    key: Any = {
        "HS256": HS256_SECRET,
        "EdDSA": ED25519_PRIVATE,
        "RS256": RSA_PRIVATE,
    }[algorithm]
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)
