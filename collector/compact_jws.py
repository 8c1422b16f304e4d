"""The compact form of a JWS (RFC 7515, section 7.1): three base64url parts without
padding, joined by dots, and nothing else.

PyJWT's base64 decoding skips stray characters and accepts padding, so one token
could be written in many ways (`TOKEN=` verified like `TOKEN`); every token we verify
must first have exactly this form.
"""

from __future__ import annotations

import re

_FORM = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def is_compact_jws(token: str, maximum_characters: int) -> bool:
    """Whether the token has the strict compact form and is not longer than the maximum."""
    return len(token) <= maximum_characters and _FORM.fullmatch(token) is not None
