"""Plain text: what a name, a question text or an agency may hold.

Checked where admins and CLI users give it (`clean`: a 422 naming the field), and
enforced again where a stored text is shown (`displayable`), so that no value that
reached storage some other way can break a page or a header. Plain text is NFC, has
no white space at its ends, and holds none of: C0 and C1 control characters, DEL,
bidirectional embeddings, overrides, isolates and marks (they reorder or hide what a
reader sees), line and paragraph separators, lone surrogates, the byte order mark and
noncharacters. Joiners (ZWJ, ZWNJ) stay: some scripts and emoji need them.
"""

from __future__ import annotations

import re
import unicodedata

from collector.errors import Unprocessable

NAME_CHARACTERS = 120  # a service's or a tenant's name, in any language
QUESTION_TEXT_CHARACTERS = 200
AGENCY_CHARACTERS = 120
_NOT_PLAIN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u2028\u2029\ufeff\ufff9-\ufffb\ufffe\uffff\ud800-\udfff]"
)
# Trimmed from the ends: ordinary white space, which a paste brings (space separators,
# tab, line ends). Other controls there are refused like anywhere else.
_TRIMMED = (
    " \t\n\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u202f\u205f\u3000"
)
_REPLACEMENT = "\ufffd"
_ELLIPSIS = "\u2026"


def clean(value: str, field: str, *, maximum: int, minimum: int = 1) -> str:
    """The value NFC-normalised and trimmed, or Unprocessable (422) naming the field."""
    text = unicodedata.normalize("NFC", value).strip(_TRIMMED)
    found = _NOT_PLAIN.search(text)
    if found is not None:
        raise Unprocessable(
            f"{field}: holds the control character U+{ord(found.group()):04X} at "
            f"position {found.start() + 1}; plain text only",
            field=field,
        )
    if len(text) < minimum:
        raise Unprocessable(f"{field}: must not be empty", field=field)
    if len(text) > maximum:
        raise Unprocessable(
            f"{field}: {len(text)} characters, at most {maximum} allowed", field=field
        )
    return text


def displayable(value: str, maximum: int) -> str:
    """A stored text as it may be shown: what plain text may not hold replaced by
    U+FFFD, and cut to the maximum. Plain text comes back unchanged, at little cost."""
    if len(value) > maximum:
        value = value[: maximum - 1] + _ELLIPSIS
    if value.isprintable() or _NOT_PLAIN.search(value) is None:
        return value
    return _NOT_PLAIN.sub(_REPLACEMENT, value)
