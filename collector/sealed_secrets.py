"""Sealed secrets: the portals' HS256 secrets as storage keeps them, encrypted.

AES-256-GCM with a key derived (HKDF-SHA256) from COLLECTOR_SECRET, so a copy of the
database alone cannot sign transaction tokens. A sealed value is `sealed-v1:` and the
base64url of a random 12-byte nonce, the ciphertext and its tag. The associated data
names the key's tenant and kid, so a sealed secret copied into another key's row does
not open there.

After a rotation of COLLECTOR_SECRET, the previous secret (COLLECTOR_PREVIOUS_SECRET)
still opens what it sealed; storage seals those values again with the current secret
when it migrates. A value without the prefix is a secret in clear: storage seals
those an older collector left once, at the first start that has a sealer
(collector/storage/signing_key_rows.py); any other is refused, as someone able to
write a row could otherwise plant a secret of their own.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from collector.settings import Settings

logger = logging.getLogger(__name__)

PREFIX = "sealed-v1:"
_NONCE_BYTES = 12
_INFO = b"civic-feedback signing key secrets v1"


def sealer_for(settings: Settings) -> SecretSealer:
    """The sealer of COLLECTOR_SECRET (and COLLECTOR_PREVIOUS_SECRET); the settings
    must carry the secret (Settings.with_secret)."""
    return SecretSealer(settings.secret, settings.previous_secret)


def _cipher(secret: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return AESGCM(key)


def _context(tenant_id: str, kid: str) -> bytes:
    return f"signing key\0{tenant_id}\0{kid}".encode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


class SecretSealer:
    """Seals with the current secret; opens with the current or the previous one."""

    def __init__(self, secret: str, previous_secret: str = "") -> None:
        if not secret:
            raise ValueError("a sealer needs the collector's secret")
        self._current = _cipher(secret)
        self._previous = _cipher(previous_secret) if previous_secret else None
        # Keys refused for a secret in clear, said once each: keys are listed every second.
        self._refused: set[tuple[str, str]] = set()
        self._refused_lock = threading.Lock()

    def seal(self, plaintext: str, tenant_id: str, kid: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._current.encrypt(nonce, plaintext.encode(), _context(tenant_id, kid))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, stored: str, tenant_id: str, kid: str) -> str | None:
        """The secret; None when neither secret sealed it (or it was tampered with), or
        when it is in clear."""
        if not is_sealed(stored):
            self._refuse_in_clear(tenant_id, kid)
            return None
        for cipher in (self._current, self._previous):
            opened = _open(cipher, stored, tenant_id, kid)
            if opened is not None:
                return opened
        return None

    def resealed(self, stored: str, tenant_id: str, kid: str) -> str | None:
        """What to store instead of a value sealed with the previous secret: sealed
        with the current one. None when it already is, when it cannot be opened, or when
        it is in clear (each left as it is)."""
        if not is_sealed(stored):
            return None
        if _open(self._current, stored, tenant_id, kid) is not None:
            return None
        opened = _open(self._previous, stored, tenant_id, kid)
        return None if opened is None else self.seal(opened, tenant_id, kid)

    def _refuse_in_clear(self, tenant_id: str, kid: str) -> None:
        with self._refused_lock:
            if (tenant_id, kid) in self._refused:
                return
            self._refused.add((tenant_id, kid))
        # The tenant and kid only: the value may be a working secret.
        logger.warning(
            "the HS256 secret of key %r of tenant %r is stored in clear, which no collector "
            "does since secrets are sealed: its tokens are refused. Revoke the key and add "
            "a new one",
            kid,
            tenant_id,
        )


def _open(cipher: AESGCM | None, stored: str, tenant_id: str, kid: str) -> str | None:
    if cipher is None:
        return None
    encoded = stored.removeprefix(PREFIX)
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        opened = cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _context(tenant_id, kid))
        return opened.decode()
    except (InvalidTag, ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
        return None
