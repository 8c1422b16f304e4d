"""Rating ids: UUIDv7 (RFC 9562), assigned at the collector.

Time-ordered, so storage indexes stay append-mostly; 74 random bits, so several
collector processes never need to coordinate.
"""

from __future__ import annotations

import os
import time


def new_rating_id(now_milliseconds: int | None = None) -> str:
    """Return a new UUIDv7 as its canonical 36-character string."""
    milliseconds = time.time_ns() // 1_000_000 if now_milliseconds is None else now_milliseconds
    random_bits = int.from_bytes(os.urandom(10), "big")
    value = (milliseconds & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((random_bits >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= random_bits & ((1 << 62) - 1)  # rand_b, 62 bits
    text = f"{value:032x}"  # what str(uuid.UUID(int=value)) gives, at half the cost
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
