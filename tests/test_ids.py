"""Rating ids: canonical UUIDv7 strings, ordered by their millisecond timestamp."""

from __future__ import annotations

import re
import uuid
from itertools import pairwise

import pytest

from collector.ids import new_rating_id

CANONICAL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
MILLISECONDS = [
    pytest.param(0, id="epoch"),
    pytest.param(1, id="one"),
    pytest.param(1_700_000_000_123, id="2023"),
    pytest.param(2**48 - 1, id="largest-48-bit"),
]


@pytest.mark.parametrize("now_milliseconds", [*MILLISECONDS, pytest.param(None, id="clock")])
def test_canonical_uuid_version_7_rfc_9562_variant(now_milliseconds: int | None) -> None:
    rating_id = new_rating_id(now_milliseconds)
    parsed = uuid.UUID(rating_id)
    assert CANONICAL.match(rating_id)
    assert str(parsed) == rating_id
    assert parsed.version == 7
    # RFC 9562 keeps the variant bits of RFC 4122 (0b10), which is what uuid names them.
    assert parsed.variant == uuid.RFC_4122
    assert parsed.int >> 62 & 0b11 == 0b10


@pytest.mark.parametrize("now_milliseconds", MILLISECONDS)
def test_first_48_bits_are_the_milliseconds(now_milliseconds: int) -> None:
    parsed = uuid.UUID(new_rating_id(now_milliseconds))
    assert parsed.int >> 80 == now_milliseconds
    assert str(parsed).replace("-", "")[:12] == f"{now_milliseconds:012x}"


@pytest.mark.parametrize(
    "milliseconds",
    [
        pytest.param([1, 2, 3], id="consecutive"),
        pytest.param([9, 10, 255, 256, 4095, 4096], id="across-hex-digit-carries"),
        pytest.param([1_700_000_000_000 + step for step in range(0, 5000, 7)], id="a-few-seconds"),
        pytest.param([0, 2**32, 2**40, 2**48 - 1], id="whole-range"),
    ],
)
def test_ids_sort_as_strings_in_time_order(milliseconds: list[int]) -> None:
    ids = [new_rating_id(now) for now in milliseconds]
    assert all(earlier < later for earlier, later in pairwise(ids))


def test_one_thousand_ids_are_distinct() -> None:
    same_millisecond = {new_rating_id(1_700_000_000_000) for _ in range(1000)}
    from_the_clock = {new_rating_id() for _ in range(1000)}
    assert len(same_millisecond) == 1000
    assert len(from_the_clock) == 1000
