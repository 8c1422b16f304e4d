"""Portal signing keys: each tenant signs its transaction tokens with keys chosen by kid.

A kid is unique within its tenant only: tokens for a tenant's services are looked up
among that tenant's keys, so another tenant's kids are neither used nor revealed.

HS256 keys are shared secrets we generate (the HMAC key is the secret's UTF-8 text, so
every JWT library takes it as it is); EdDSA (Ed25519) and RS256 keys are public keys
the portal registers, keeping the private half. A key verifies only tokens of its own
algorithm, so no token can switch a public key into an HMAC secret.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Literal

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

Algorithm = Literal["HS256", "EdDSA", "RS256"]
ALGORITHMS: tuple[str, ...] = ("HS256", "EdDSA", "RS256")
# Below this an RSA key can be factored by a well-funded attacker (NIST SP 800-131A).
MINIMUM_RSA_BITS = 2048
_SECRET_BYTES = 32
KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class KeyMaterialError(ValueError):
    """A public key that is not what its algorithm needs."""


class SigningKey(msgspec.Struct, frozen=True, kw_only=True):
    kid: str
    tenant_id: str
    algorithm: Algorithm
    # HS256: the shared secret (sealed in storage, collector/sealed_secrets.py; empty
    # when storage could not open it); EdDSA and RS256: the public key as PEM.
    material: str
    created_at: int
    revoked_at: int | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def verifying_key(self) -> bytes | Ed25519PublicKey | RSAPublicKey:
        """What PyJWT verifies with: the secret's bytes, or the loaded public key."""
        if self.algorithm == "HS256":
            if not self.material:
                # An empty HMAC key would verify tokens anyone can sign.
                raise KeyMaterialError(f"the secret of key {self.kid!r} could not be opened")
            return self.material.encode()
        return load_public_key(self.algorithm, self.material)


def load_public_key(algorithm: str, pem: str) -> Ed25519PublicKey | RSAPublicKey:
    """Parse a PEM public key and check it fits the algorithm."""
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as error:
        raise KeyMaterialError(f"not a PEM public key: {error}") from None
    if algorithm == "EdDSA" and isinstance(key, Ed25519PublicKey):
        return key
    if algorithm == "RS256" and isinstance(key, RSAPublicKey):
        if key.key_size < MINIMUM_RSA_BITS:
            raise KeyMaterialError(
                f"the RSA key has {key.key_size} bits; at least {MINIMUM_RSA_BITS} are needed"
            )
        return key
    wanted = "an Ed25519" if algorithm == "EdDSA" else "an RSA"
    raise KeyMaterialError(f"{algorithm} needs {wanted} public key")


def new_key_id(tenant_id: str, now: float | None = None) -> str:
    """tenant-YYYYMMDD-xxxxxx: readable in logs, unique in practice."""
    day = time.strftime("%Y%m%d", time.gmtime(time.time() if now is None else now))
    return f"{tenant_id}-{day}-{secrets.token_hex(3)}"


def new_signing_key(
    tenant_id: str,
    algorithm: str,
    public_key_pem: str | None = None,
    kid: str | None = None,
) -> SigningKey:
    """A new key: a generated secret for HS256, the given public key otherwise."""
    if algorithm not in ALGORITHMS:
        raise KeyMaterialError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
    if algorithm == "HS256":
        if public_key_pem:
            raise KeyMaterialError("HS256 keys are generated here; do not send a public key")
        material = secrets.token_urlsafe(_SECRET_BYTES)
    else:
        if not public_key_pem:
            raise KeyMaterialError(f"{algorithm} needs the portal's public key (PEM)")
        load_public_key(algorithm, public_key_pem)
        material = public_key_pem.strip() + "\n"
    chosen = kid or new_key_id(tenant_id)
    if not KEY_ID.fullmatch(chosen):
        raise KeyMaterialError(f"kid {chosen[:70]!r}: use 1 to 64 letters, digits, '.', '_' or '-'")
    return SigningKey(
        kid=chosen,
        tenant_id=tenant_id,
        algorithm=algorithm,  # type: ignore[arg-type]  # checked above
        material=material,
        created_at=int(time.time()),
    )


class KeyRing:
    """Every tenant's keys by (tenant, kid), revoked ones included (to say "revoked",
    not "unknown"), with their verifying keys loaded once."""

    def __init__(self, keys: list[SigningKey] | None = None) -> None:
        self._keys: dict[tuple[str, str], tuple[SigningKey, object]] = {}
        self.replace(keys or [])

    def replace(self, keys: list[SigningKey]) -> None:
        loaded: dict[tuple[str, str], tuple[SigningKey, object]] = {}
        for key in keys:
            name = (key.tenant_id, key.kid)
            previous = self._keys.get(name)
            if previous is not None and previous[0] == key:
                loaded[name] = previous
                continue
            try:
                loaded[name] = (key, key.verifying_key())
            except KeyMaterialError:
                # Validated when added: a hand-edited row, or a secret sealed with
                # another COLLECTOR_SECRET (storage warned when it migrated).
                continue
        self._keys = loaded

    def get(self, tenant_id: str, kid: str) -> tuple[SigningKey, object] | None:
        return self._keys.get((tenant_id, kid))

    def __len__(self) -> int:
        return len(self._keys)
